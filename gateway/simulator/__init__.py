"""A Kyvos Web Portal simulator speaking the API of DESIGN.md section 4, with fault injection.

Stand-alone: it imports nothing from the rest of the gateway.
"""

from gateway.simulator.app import create_app
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.faults import FaultAction, FaultRule
from gateway.simulator.state import SIMULATOR_STATE, PortalState

__all__ = [
    "SIMULATOR_STATE",
    "FaultAction",
    "FaultRule",
    "PortalState",
    "SimulatorConfig",
    "create_app",
]
