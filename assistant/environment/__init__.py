"""The target environment: probe (subprocess, never importing TensorFlow here), doctor checks, GPU ladder, install planner."""
