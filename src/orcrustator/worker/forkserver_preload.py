"""Imported once by the executor fork server, so that every executor forks warm.

Reading the plugin entry points and importing every plugin's spec module costs each process a
noticeable moment; done here, a worker with dozens of executors starts them all in a blink
instead of having each repeat the work on two busy cores.
"""

from orcrustator.plugins import registry

registry.list_specs()
