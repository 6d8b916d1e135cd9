"""Start the SMRL graph (config/graph.yaml) as one process per node, without `ros2 launch`.

    start_graph                                  # sim, babbling, keypoints, self model
    start_graph record:=bags/run1 distractor_arm:=true
    start_graph use_sim:=false bag:=bags/run1    # the replay driver instead of the sim
    start_graph --nodes sim scripted_motion      # only these (their `when` still applies)

Arguments are the launch file's (`ros2 launch launch/demo.launch.py NAME:=VALUE`); each node's
output goes to <log-dir>/<node>.log. Ctrl-C or SIGTERM is passed on to every node. A node that
dies is reported at once and the others run on; the exit status is then 1.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from smrl_bringup.core.graph_description import GraphError, load_graph
from smrl_bringup.core.node_processes import NodeProcesses

POLL_PERIOD_S = 0.2


def parse_arguments(pairs: list[str]) -> dict[str, str]:
    arguments = {}
    for pair in pairs:
        name, separator, value = pair.partition(":=")
        if not separator:
            raise GraphError(f"{pair!r}: arguments are NAME:=VALUE")
        arguments[name] = value
    return arguments


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arguments", nargs="*", metavar="NAME:=VALUE", help="launch arguments of the graph")
    parser.add_argument("--nodes", nargs="+", metavar="NAME", help="start only these nodes")
    parser.add_argument("--log-dir", type=Path, default=Path(time.strftime("graph_logs/%Y_%m_%d-%H_%M_%S")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[start_graph] %(message)s")
    graph = load_graph()
    try:
        nodes = graph.resolve(parse_arguments(args.arguments))
    except GraphError as error:
        parser.error(str(error))
    if args.nodes:
        unknown = set(args.nodes) - set(graph.node_names())
        if unknown:
            parser.error(f"no nodes {sorted(unknown)} in the graph; it has {graph.node_names()}")
        nodes = [node for node in nodes if node.name in args.nodes]

    received: list[int] = []  # the signal that asks us to stop
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: received.append(number))
    processes = NodeProcesses(nodes, args.log_dir)
    try:
        processes.start()  # checks every node's executable before it starts any
    except GraphError as error:
        raise SystemExit(f"[start_graph] {error}") from None
    logging.info("%d nodes running, logs in %s; Ctrl-C stops them", len(nodes), args.log_dir)
    while not received and processes.pids():
        processes.poll()
        time.sleep(POLL_PERIOD_S)
    exit_codes = processes.stop(received[0] if received else signal.SIGINT)
    logging.info("stopped: exit codes %s", exit_codes)
    sys.exit(1 if processes.died else 0)


if __name__ == "__main__":
    main()
