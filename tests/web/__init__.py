"""Tests of the study database and its web application (issue 6)."""
