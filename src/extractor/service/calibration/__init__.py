"""Judge calibration: how often the online judge agrees with human reviewers, per rubric version and field."""

from extractor.service.calibration.rubric import rubric_version

__all__ = ["rubric_version"]
