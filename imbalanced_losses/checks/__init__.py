"""Checks by kind, one place each: user-given scalars (``scalars``: TypeError for a wrong type,
ValueError for a wrong value), tensor values on the host (``host``: targets and alpha, one host
sync, and the policy that says when), tensor values on the device (``device``: flags the kernels
set without a sync, raised at a later call)."""
