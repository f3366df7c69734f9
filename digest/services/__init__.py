"""Use cases, one per verb, each owning its transaction.

The CLI, the admin and the API call the same functions and get the same shapes back.
"""
