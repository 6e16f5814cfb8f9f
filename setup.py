"""Packaging: every option lives in setup.cfg except the package list, built here.

The bundled data sets stay in the repository's ``data/`` folder and install as the package
``canopic_data`` (setup.cfg: ``package_dir`` maps it onto ``data/``, ``package_data`` lists the
files). ``packages = find:`` only finds folders named like their packages, so the list is the
project's packages (found) plus ``canopic_data``.
"""
from setuptools import find_packages, setup

PROJECT_PACKAGES = ("canopic", "optics", "sensor", "analog", "learn", "hil")

setup(packages=find_packages(include=[*PROJECT_PACKAGES, *(f"{p}.*" for p in PROJECT_PACKAGES)])
      + ["canopic_data"])
