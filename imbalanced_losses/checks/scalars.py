"""The checks of user-given scalars, for every argument of the package that takes one (the loss's
options, class balance, priors, heads and initializers): a wrong type raises ``TypeError``, a
wrong value ``ValueError``, each naming the argument and the value. A bool is never a number here
(``True`` is an ``int`` to Python, not a gamma). Tensor values are checked elsewhere: on the host
in ``checks/host.py``, on the device in ``checks/device.py``."""
import math
import numbers


def is_int(value):
    """An integer that is not a bool (numpy and torch integer scalars included)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def is_real(value):
    """A real number that is not a bool (ints, floats, numpy and torch scalars)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def check_int(name, value):
    """``value`` as an int; ``TypeError`` naming ``name`` otherwise."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def check_real(name, value, expected):
    """``value`` as a float; ``TypeError`` naming ``name`` and saying what was ``expected`` otherwise."""
    if not is_real(value):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    return float(value)


def check_number(name, value, expected, accept):
    """``value`` as a float: ``TypeError`` if it is not a real number, ``ValueError`` if ``accept``
    refuses it (NaN included, as comparisons with it are False); both say what was ``expected``."""
    number = check_real(name, value, expected)
    if not accept(number):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def non_negative(number):
    return number >= 0


def finite_non_negative(number):
    return number >= 0 and math.isfinite(number)


def check_flag(name, value, allow_none=False):
    """``value`` if it is True or False (or None with ``allow_none``); ``TypeError`` naming ``name`` otherwise."""
    if not (isinstance(value, bool) or (allow_none and value is None)):
        raise TypeError(f"{name} must be {'None, ' if allow_none else ''}True or False, got {value!r}")
    return value
