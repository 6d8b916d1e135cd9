"""ROS-free core of smrl_bringup: the graph description and the processes that run it."""
