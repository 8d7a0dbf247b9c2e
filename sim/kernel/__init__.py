"""The deterministic kernel under every world: what makes one ``trio.run`` repeatable and faithful.

``decisions`` is the one source of choices (seeded, recorded, pinned); ``scheduler`` seeds trio's batch
order from it; ``virtual_time`` is the world's clock and its own cheap sleeps; ``wallclock`` gives user
code that reads the wall clock virtual time; ``isolation`` makes each simulated process its own fresh
copies of the user's modules (``codecache`` compiles their attrs methods once); ``watchdog`` stops a
body that never yields; ``entropy`` seeds the process's randomness from the world's decisions; ``blocking``
says a body that blocks the event loop; ``interrupts`` keeps Ctrl-C the user's; ``collector`` spares a big world
needless garbage-collector passes. Nothing here knows what a world, a fault or a check is.
"""
