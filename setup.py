"""Packaging detail pyproject.toml cannot express: conf/ ships inside the wheel as bmrun/conf.

The configs live at the top of the repository (one place for users to read), and the installed
package must carry them so ``bmrun`` works from a wheel without the source tree.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["bmrun", "bmrun.*"]) + ["bmrun.conf"],
    package_dir={"bmrun.conf": "conf"},
    package_data={"bmrun.conf": ["*.yaml", "**/*.yaml"]},
)
