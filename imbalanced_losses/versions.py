"""Version strings as tuples of numbers (torch's, Triton's, a record's): one parser for the package."""
import re
from typing import Tuple


def version_prefix(version: str, parts: int = 2) -> Tuple[int, ...]:
    """'3.6.0+git1a2b' -> (3, 6): the leading numeric parts of a version string."""
    numbers = []
    for part in version.split("+")[0].split(".")[:parts]:
        digits = re.match(r"\d+", part)
        if not digits:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)
