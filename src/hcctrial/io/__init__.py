"""Study data: SDTM-shaped polars tables, readers and writers with validation, CSV templates.

- :class:`StudyData`: domain name -> polars DataFrame (``data.lb``, ``data["TR"]``).
- :func:`read_study` / :func:`write_study`: a folder of ``<domain>.csv`` or ``<domain>.xpt``.
- :func:`validate_study`: the same checks on tables already in memory.
- :func:`write_templates`: header-only CSV templates for hospital teams, with a column guide.
- :func:`example_study`: a small hand-written HCC cell-therapy trial extract.

The specification (required columns, types, keys, dates, controlled terminology) is one data
file, ``domains.yaml``, following the CDISC SDTM Implementation Guide v3.4.
"""

from __future__ import annotations

from hcctrial.io.examples import example_study, example_study_folder
from hcctrial.io.read import domain_for_file, read_domain_file, read_study, study_files, write_study
from hcctrial.io.spec import SDTM_IG_VERSION, DomainSpec, codelists, domain_spec, known_domains
from hcctrial.io.study import PROBLEM_SCHEMA, StudyData
from hcctrial.io.templates import write_templates
from hcctrial.io.validate import validate_domain, validate_study

__all__ = [
    "PROBLEM_SCHEMA",
    "SDTM_IG_VERSION",
    "DomainSpec",
    "StudyData",
    "codelists",
    "domain_for_file",
    "domain_spec",
    "example_study",
    "example_study_folder",
    "known_domains",
    "read_domain_file",
    "read_study",
    "study_files",
    "validate_domain",
    "validate_study",
    "write_study",
    "write_templates",
]
