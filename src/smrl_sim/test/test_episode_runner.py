"""The episode runner's judging, without ROS: seeds in order, success, timeout, stray statuses."""
import pytest

from smrl_sim.core.episode_runner import EpisodeRunner


def test_episodes_are_reset_with_consecutive_seeds_and_judged_by_their_own_statuses():
    runner = EpisodeRunner(episodes=2, first_seed=100, timeout_s=5.0)
    assert runner.reset_to_request() == 100
    assert runner.reset_to_request() is None                      # one reset at a time
    assert runner.status(0, 4.9, True, 0.01) is None              # the sim's episode before the reset
    runner.reset_replied(True, sim_episode=1)
    assert runner.reset_to_request() is None                      # episode 1 runs
    assert runner.status(1, 0.5, False, 0.30) is None
    result = runner.status(1, 1.2, True, 0.05)
    assert (result.index, result.seed, result.success, result.elapsed_s, result.min_distance_m) == (0, 100, True, 1.2, 0.05)
    assert runner.status(1, 1.3, True, 0.05) is None              # already judged
    assert runner.reset_to_request() == 101
    runner.reset_replied(False, 0)                                # refused: asked again
    assert runner.reset_to_request() == 101
    runner.reset_replied(True, sim_episode=2)
    assert runner.status(2, 4.9, False, 0.2) is None
    result = runner.status(2, 5.0, False, 0.25)
    assert (result.seed, result.success, result.min_distance_m) == (101, False, 0.2)
    assert runner.done and runner.successes == 1 and runner.reset_to_request() is None


@pytest.mark.parametrize("episodes, timeout_s", [(0, 5.0), (3, 0.0)])
def test_a_runner_needs_episodes_and_a_positive_timeout(episodes, timeout_s):
    with pytest.raises(ValueError):
        EpisodeRunner(episodes, timeout_s=timeout_s)
