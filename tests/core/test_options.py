"""One options object: ``LossOptions`` checks every value when built (and when replaced) and holds
the defaults; the public signatures write them as literals (what the API page shows), equal to it."""
import dataclasses
import inspect

import pytest
import torch

from imbalanced_losses import LossOptions, SoftmaxFocalLoss, softmax_focal_loss


@pytest.mark.parametrize("entry", [softmax_focal_loss, SoftmaxFocalLoss.__init__], ids=["functional", "module"])
def test_the_signatures_defaults_are_the_options_defaults(entry):
    parameters = inspect.signature(entry).parameters
    for field in dataclasses.fields(LossOptions):
        assert parameters[field.name].default == field.default, field.name
    assert SoftmaxFocalLoss().options == LossOptions()


def test_the_openmmlab_adapter_takes_every_option_with_the_cores_defaults():
    pytest.importorskip("mmengine")
    from imbalanced_losses.openmmlab import MMDetSoftmaxFocalLoss, OpenMMLabSoftmaxFocalLoss
    assert MMDetSoftmaxFocalLoss is OpenMMLabSoftmaxFocalLoss  # the old name stays importable
    assert OpenMMLabSoftmaxFocalLoss().options == LossOptions()
    changed = dict(gamma=0.5, reduction="sum", label_smoothing=0.25, ignore_index=3, background_class=2,
                   gather_distributed=False, backend="eager", sync_checks=True)
    assert set(changed) == {field.name for field in dataclasses.fields(LossOptions)}
    assert OpenMMLabSoftmaxFocalLoss(**changed).options == LossOptions(**changed)
    assert OpenMMLabSoftmaxFocalLoss(compile=True).options.backend == "compile"
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['gama'\]\. It takes alpha, loss_weight"):
        OpenMMLabSoftmaxFocalLoss(gama=2.0)
    with pytest.raises(TypeError, match=r"\['class_weight'\]; per-class factors are alpha=\[\.\.\.\] here "
                                        r"\(class_weight is another loss's name.*add _delete_=True to your loss dict"):
        OpenMMLabSoftmaxFocalLoss(class_weight=[1.0, 2.0])


@pytest.mark.parametrize("name", ["weight", "class_weight"])
def test_the_cross_entropy_habit_for_class_weights_names_alpha(name):
    with pytest.raises(TypeError, match=rf"SoftmaxFocalLoss\(\) got unexpected keyword arguments \['{name}'\]; "
                                        r"per-class factors are alpha=\[\.\.\.\] here.*"
                                        r"forward\(inputs, targets, weight"):
        SoftmaxFocalLoss(**{name: torch.ones(3)})
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['gama'\]$"):
        SoftmaxFocalLoss(gama=2.0)


def test_the_module_shows_and_checks_every_option():
    module = SoftmaxFocalLoss(gamma=0.5, backend="eager")
    for field in dataclasses.fields(LossOptions):
        assert f"{field.name}={getattr(module.options, field.name)!r}" in repr(module)
        assert getattr(module, field.name) == getattr(module.options, field.name)
    module.label_smoothing = 0.5
    assert module.options == LossOptions(gamma=0.5, backend="eager", label_smoothing=0.5)
    with pytest.raises(ValueError, match="label_smoothing must be a real number in"):
        module.label_smoothing = 2.0


@pytest.mark.parametrize("changes, error, message", [
    (dict(gamma=-1), ValueError, "gamma must be a real number >= 0, got -1"),
    (dict(gamma=float("nan")), ValueError, "gamma must be a real number >= 0, got nan"),
    (dict(gamma="2"), TypeError, "gamma must be a real number >= 0, got '2'"),
    (dict(reduction="avg"), ValueError, "reduction must be one of"),
    (dict(label_smoothing=1.5), ValueError, r"label_smoothing must be a real number in \[0, 1\], got 1.5"),
    (dict(ignore_index=2.0), TypeError, "ignore_index must be an int, got 2.0"),
    (dict(background_class=True), TypeError, "background_class must be an int, got True"),
    (dict(gather_distributed=1), TypeError, "gather_distributed must be None, True or False, got 1"),
    (dict(backend="cuda"), ValueError, "backend must be one of"),
    (dict(sync_checks="yes"), TypeError, "sync_checks must be True or False, got 'yes'"),
])
def test_bad_values_are_refused_when_built_and_when_replaced(changes, error, message):
    with pytest.raises(error, match=message):
        LossOptions(**changes)
    with pytest.raises(error, match=message):
        LossOptions().replace(**changes)


def test_options_are_frozen_and_normalised():
    options = LossOptions(gamma=1, label_smoothing=0)
    assert isinstance(options.gamma, float) and isinstance(options.label_smoothing, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.gamma = 3.0
    assert LossOptions.from_arguments(compile=True).backend == "compile"
    with pytest.raises(ValueError, match="compile=True means backend='compile', but backend='eager'"):
        LossOptions.from_arguments(compile=True, backend="eager")
    module = SoftmaxFocalLoss(gamma=1.0)
    module.gamma = 3  # checked, then kept in a new frozen options object
    assert module.options == LossOptions(gamma=3.0)
