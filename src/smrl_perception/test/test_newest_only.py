"""The one-item mailbox keeps only the newest item and wakes a waiting worker."""
import threading

from smrl_perception.core.newest_only import NewestOnly


def test_a_slow_taker_gets_only_the_newest_item_and_each_replacement_is_reported():
    mailbox = NewestOnly()
    assert [mailbox.put(i) for i in range(3)] == [False, True, True]
    assert mailbox.take(timeout_s=0) == 2
    assert mailbox.take(timeout_s=0.01) is None  # nothing new


def test_take_waits_for_a_put_from_another_thread_and_close_releases_it():
    mailbox = NewestOnly()
    taken = []
    first_taken = threading.Event()

    def worker_loop():
        taken.append(mailbox.take())
        first_taken.set()
        taken.append(mailbox.take())  # waits until close()

    worker = threading.Thread(target=worker_loop)
    worker.start()
    mailbox.put("image")
    assert first_taken.wait(timeout=5.0)
    mailbox.close()
    worker.join(timeout=5.0)
    assert not worker.is_alive() and taken == ["image", None]
