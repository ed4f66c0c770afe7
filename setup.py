"""Packaging detail pyproject.toml cannot express: conf/ ships inside the wheel as bmrun/conf.

The configs live at the top of the repository (one place for users to read), and the installed
package must carry them so ``bmrun`` works from a wheel without the source tree.
"""

from setuptools import find_namespace_packages, find_packages, setup

# Each folder of conf/ is a package of its own (bmrun.conf.model, ...): listed, so setuptools
# ships its YAML files without its "package would be ignored" warning.
CONF = ["bmrun.conf"] + [f"bmrun.conf.{name}" for name in find_namespace_packages(where="conf")]

setup(
    packages=find_packages(include=["bmrun", "bmrun.*"]) + CONF,
    package_dir={"bmrun.conf": "conf"},
    package_data={name: ["*.yaml"] for name in CONF},
)
