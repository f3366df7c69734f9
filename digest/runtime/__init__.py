"""The process around the stages.

The dispatch seam, logs, metrics, the operator checks and the samples.
"""
