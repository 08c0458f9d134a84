"""
Emphasizing Recent Experience (ERE): Che Wang and Keith Ross, "Boosting Soft Actor-Critic:
Emphasizing Recent Experience without Forgetting the Past", arXiv:1906.04009 (2019).

For the k-th of K gradient updates that follow a stretch of data collection, ERE samples uniformly
from the newest ``c_k = max(N * eta ** (k * 1000 / K), c_min)`` transitions of the N stored: the
first updates of a batch see (almost) the whole buffer, the last ones mostly recent data, and
``eta = 1`` is uniform replay. For SARSA the point is the stored next action ``a'``: recent
transitions hold ``a'`` drawn by policies closer to the current one (``train/next_action_agreement``).
"""


def ere_window(stored: int, update: int, updates: int, eta: float, min_size: int) -> int:
    """
    The number of newest transitions the ``update``-th of ``updates`` gradient steps samples from.

    :param stored: transitions in the buffer (per env), N
    :param update: which update of the batch, k, from 1 to ``updates``
    :param updates: updates in the batch, K
    :param eta: the emphasis, in (0, 1]; 1 samples the whole buffer
    :param min_size: c_min, the smallest window
    :return: ``min(N, max(int(N * eta ** (k * 1000 / K)), c_min))``, at least 1
    """
    if not 1 <= update <= updates:
        raise ValueError(f"update must be in [1, updates={updates}], got {update}.")
    window = max(int(stored * eta ** (update * 1000 / updates)), min_size)
    return max(1, min(stored, window))
