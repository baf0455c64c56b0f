"""Two trainers that must train alike: the fused options against the
notebook's recipe."""

import numpy as np

from seq2seq_lasagne.data_generator import get_batch


def assert_trains_alike(reference, settings):
    """Ten Adam steps from the same weights (seed 5) on 3-digit batches:
    ``reference`` (a compiled trainer) and a trainer built from
    ``settings`` give the same costs and weights up to float32 rounding,
    and the cost falls."""
    from seq2seq_lasagne.training import build_trainer

    other = build_trainer(settings)
    other.compile(test=False)
    rng = np.random.RandomState(11)
    batches = [get_batch(50, 3, 3, rng=rng)[:3] for _ in range(10)]
    runs = []
    for trainer in (reference, other):
        trainer.reset(5)
        costs = [trainer.train_step(x, y, xmask)[0] for x, xmask, y in batches]
        runs.append((costs, trainer.shared_state()))
    (costs, state), (other_costs, other_state) = runs
    np.testing.assert_allclose(other_costs, costs, rtol=2e-5)
    assert costs[-1] < costs[0]
    for got, want in zip(other_state, state):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)
