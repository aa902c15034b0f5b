"""Judge calibration: how often the online judge agrees with human reviewers, per rubric version and field.

`rubric_version` is the harness's own definition, so a rubric in a case file and the same
rubric in production get the same version, and an eval run finds its calibration.
"""

from pytest_listingeval import rubric_version

__all__ = ["rubric_version"]
