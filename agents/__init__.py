"""The four agent types. Each is a Mesa agent and a view onto one row of the model's arrays.

The rules run over whole populations in :mod:`sim`; these classes make any single resident,
merchant, freelancer or retiree inspectable (``model.agents_by_type[Resident]``).
"""

from agents.freelancer import Freelancer
from agents.merchant import Merchant
from agents.resident import Resident
from agents.retiree import Retiree

__all__ = ["Resident", "Merchant", "Freelancer", "Retiree"]
