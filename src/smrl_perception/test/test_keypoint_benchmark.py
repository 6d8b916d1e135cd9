"""The latency benchmark runs and reports plausible timings."""
import json

from smrl_perception.benchmark import main


def test_benchmark_writes_a_timing_per_size_and_memory_format(tmp_path, capsys):
    path = tmp_path / "latency.json"
    main(["--sizes", "32", "--runs", "5", "--warmup-runs", "1", "--json", str(path)])
    results = json.loads(path.read_text())["results"]
    assert [(r["config"]["image_size"], r["memory_format"]) for r in results] == [
        (32, "channels_last"), (32, "contiguous")]
    assert all(0 < r["median_ms"] <= r["p90_ms"] < 1000 for r in results)
    assert "channels_last" in capsys.readouterr().out
