"""A deliberately plain PostgreSQL design of joinedup's intake -> person view -> audited query path, the
reference B6 compares joinedup with (bench/postgres_reference.py runs it).

- ``server``: a throwaway PostgreSQL from Debian's packages (initdb into a temporary directory, the server
  on 127.0.0.1 at a free port, stopped by its PID).
- ``schema``: the tables: the intake log (event id unique), referrals, records, the person view's items,
  repeat-assessment alerts, consent statements, sharing agreements and the access audit.
- ``intake``: one submission -> one transaction (validation by the referral service's own rules,
  de-duplication by event id with ON CONFLICT DO NOTHING, the derived rows).
- ``query``: one SELECT by person plus the audit INSERT, in one transaction, synchronous_commit on.
- ``our_figures``: joinedup's own B1 / B3 figures, read from docs/benchmarks.md, for the ratio.
"""
