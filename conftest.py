"""Shared pytest setup of all SMRL packages: each test session gets its own ROS 2 graph.

Tests run real rclpy over real DDS (Fast DDS), never mocks. To keep concurrent test runs on one
machine (two developers, CI beside a demo) from seeing each other's nodes, this file gives the
session, before anything imports rclpy:

- ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST: discovery stays on this host;
- a ROS_DOMAIN_ID of its own, held with a lock file while the session lives;
- a fresh ROS_LOG_DIR in a temp folder (the default ~/.ros/log may not be writable).

Fixtures: ros_context (an initialised rclpy Context, shut down after the test, which destroys
its nodes), executor (a SingleThreadedExecutor on it), and the helpers spin_until and
publish_each (malformed messages one at a time, each until the node has counted it). A test that
uses ros_context is marked `ros`, so `-m "not ros"` runs the ROS-free cores only. Where rclpy
is not installed those tests skip; where it is installed but broken they fail.
"""
import fcntl
import importlib.util
import os
import shutil
import tempfile
import time

import pytest

# Fast DDS computes its ports from the domain id; 1..101 are valid on Linux with every
# participant count we use. 0, the default, is left to interactive sessions.
_DOMAIN_IDS = range(1, 102)
_domain_lock = None  # the open lock file: closing it (at exit) frees the domain id


def _claim_domain_id():
    """Lock and return a ROS domain id no other SMRL test session on this machine holds."""
    global _domain_lock
    lock_dir = os.path.join(tempfile.gettempdir(), "smrl-ros-domains")
    os.makedirs(lock_dir, exist_ok=True)
    start = os.getpid() % len(_DOMAIN_IDS)  # spread concurrent sessions from the start
    for i in range(len(_DOMAIN_IDS)):
        domain_id = _DOMAIN_IDS[(start + i) % len(_DOMAIN_IDS)]
        lock = open(os.path.join(lock_dir, f"{domain_id}.lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _domain_lock = lock
        return domain_id
    raise RuntimeError(f"all ROS domain ids {_DOMAIN_IDS} are held by other SMRL test runs")


def pytest_configure(config):
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(_claim_domain_id())
    log_dir = tempfile.mkdtemp(prefix="smrl-test-ros-log-")
    os.environ["ROS_LOG_DIR"] = log_dir
    config.add_cleanup(lambda: shutil.rmtree(log_dir, ignore_errors=True))


def pytest_report_header(config):
    return f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} (discovery: localhost only)"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "ros_context" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ros)


def _import_rclpy():
    if importlib.util.find_spec("rclpy") is None:
        pytest.skip("rclpy is not installed (./smrl setup installs it)")
    import rclpy

    return rclpy


@pytest.fixture
def ros_context():
    """A fresh, initialised rclpy Context; shut down after the test (its nodes with it)."""
    rclpy = _import_rclpy()
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def executor(request, ros_context):
    """The executor run_node spins nodes with, on ros_context: rclpy's events executor, or for tests
    marked `single_threaded_executor` (those with the keypoint node) the single-threaded one. Add
    the test's nodes to it."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.experimental import EventsExecutor

    single_threaded = request.node.get_closest_marker("single_threaded_executor") is not None
    executor = (SingleThreadedExecutor if single_threaded else EventsExecutor)(context=ros_context)
    try:
        yield executor
    finally:
        executor.shutdown()


def _spin_until(executor, predicate, timeout_s=5.0):
    """Spin executor until predicate() is true; return whether it became true in timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        executor.spin_once(timeout_sec=min(0.05, remaining))
    return True


@pytest.fixture
def spin_until():
    """The helper spin_until(executor, predicate, timeout_s=5.0) -> bool."""
    return _spin_until


def _publish_each(executor, publisher, messages, count, timeout_s=5.0):
    """Publish `messages` one at a time, each once `count()` (what the node counts: drops,
    rejections) has grown since the one before; best-effort topics lose none that way. Returns the
    indices of the messages the node did not count within timeout_s each (empty: all counted)."""
    missed = []
    for index, message in enumerate(messages):
        before = count()
        publisher.publish(message)
        if not _spin_until(executor, lambda: count() > before, timeout_s):
            missed.append(index)
    return missed


@pytest.fixture
def publish_each():
    """The helper publish_each(executor, publisher, messages, count, timeout_s=5.0) -> missed indices."""
    return _publish_each
