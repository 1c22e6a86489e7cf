"""carbonpark: the platform of an industrial-internet dual-carbon park.

Measure, account, forecast, optimise, trade and evaluate carbon for an industrial park,
its enterprises, regulators and verifiers (《工业互联网碳达峰碳中和园区指南(2021)》).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
