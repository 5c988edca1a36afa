#!/usr/bin/python3
"""cgroup-name.py EXEC_ID STATE_DIR: the name of a shim's cgroup, <id>-<FNV-1a of the state
directory> in hex, as shim/cgroup.c (shim_cgroup_name) makes it. For the tests and benches."""
import sys

h = 2166136261
for b in sys.argv[2].encode():
    h = ((h ^ b) * 16777619) & 0xFFFFFFFF
print("%s-%08x" % (sys.argv[1], h))
