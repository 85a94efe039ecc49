"""A writer process for the crash tests (run as ``python writer.py URL MODE SUBJECT_ID``).

- ``hold``: open a write transaction, enter five lab records and change the subject (audit
  entries are flushed with them), print ``flushed`` and wait, never committing: the test kills
  the process with SIGKILL here.
- ``busy``: commit one lab record after another, printing ``committed N`` after each, until
  killed.
"""

from __future__ import annotations

import sys
import time

from hcctrial.web.db import Subject, begin_write, make_engine, make_sessionmaker
from hcctrial.web.service import save_record

LAB = {"LBTESTCD": "PLT", "LBORRES": "150", "LBORRESU": "10^9/L", "LBDTC": "2026-01-06"}


def main(url: str, mode: str, subject_id: int) -> None:
    sessions = make_sessionmaker(make_engine(url))
    if mode == "hold":
        session = sessions()
        begin_write(session)
        session.info["user"] = "doomed writer"
        subject = session.get(Subject, subject_id)
        assert subject is not None
        for n in range(5):
            save_record(session, subject, "LB", {**LAB, "LBORRES": str(100 + n)}, "doomed")
        subject.race = "CHANGED BY A WRITER THAT NEVER COMMITS"
        session.flush()
        print("flushed", flush=True)
        time.sleep(600)
        return
    n = 0
    while True:
        with sessions() as session:
            begin_write(session)
            session.info["user"] = "busy writer"
            subject = session.get(Subject, subject_id)
            assert subject is not None
            save_record(session, subject, "LB", {**LAB, "LBORRES": str(n)}, "busy")
            session.commit()
        n += 1
        print(f"committed {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
