"""The live runtime: durable workers in real processes over real stores (DESIGN §6).

Imports neither pytest nor hypothesis: a production worker needs neither.
"""
