"""What pyproject.toml cannot say: templates/ stays at the top of the repository and is
installed as the package data of ``digest.templates``, so a wheel carries its templates."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["digest*", "workers*"]), "digest.templates"],
    package_dir={"digest.templates": "templates"},
)
