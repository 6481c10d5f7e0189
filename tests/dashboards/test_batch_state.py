"""The import batch's per-thread state, read by every membership announcement."""

import threading

import pytest

from reporting import receivers


@pytest.mark.django_db(transaction=True)
def test_a_thread_that_never_opened_a_batch_reads_none_outside_a_transaction():
    # A live server's or worker's fresh thread saving a membership in autocommit: no batch.
    found = {}

    def read():
        try:
            found["ids"] = receivers._open_batch()
        except Exception as exc:  # the failure this guards against: AttributeError
            found["error"] = exc

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert found == {"ids": None}
