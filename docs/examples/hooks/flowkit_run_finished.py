"""A listener: append every finished run's test bits/dim to a CSV file."""

import csv

from flowkit import hookimpl

LOG = "finished-runs.csv"


@hookimpl
def flowkit_run_finished(run_file, status, results):
    with open(LOG, "a", newline="") as handle:
        csv.writer(handle).writerow([run_file, status, results.get("test_bits_per_dim")])
