"""k-fold cross-validation of the head as one batched graph: every fold trains at once.

The Tuner scores a trial, and OutOfFold predicts every photo, by training one head per
fold. Each fold's head is fit_head's procedure (models/head.py): [dropout ->] (dense ReLU
-> dropout ->) dense softmax, Glorot-uniform kernels and zero biases (the same initial
weights in every fold), L2 on the kernels, Adam (Keras' defaults), minibatches of
`batch_size` in a seeded shuffle per epoch, the last one partial. Here the k heads are
one set of stacked weights [k, ...], so a step is a few batched matmuls for all folds
instead of one small Keras step per fold, and a fold whose epoch has fewer minibatches
sits out the extra step (no update, its Adam state kept).

Dropout rate, L2 and learning rate are tensors, so the graph is traced once per shape
(hidden units, batch size) and reused by every trial of that shape. With `patience`,
training stops once the mean held-out loss over the folds has not improved for that many
epochs: the epoch a trial picks (the mean curve's lowest loss) is the same unless the loss
falls again later, and a trial that peaks early costs a fraction of the epochs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

ADAM = (0.9, 0.999, 1e-7)  # Keras' Adam defaults: beta_1, beta_2, epsilon
_GRAPHS: dict[tuple, tf.types.experimental.GenericFunction] = {}


def initial_weights(d: int, classes: int, hp: dict) -> list[np.ndarray]:
    """One fold's initial weights, [W1, b1,] W2, b2: those of models.head.build_head with hp's
    seed (Glorot-uniform kernels, zero biases), so fit_head starts where every fold starts."""
    import tf_keras

    from models.head import build_head

    tf_keras.utils.set_random_seed(int(hp["seed"]))
    return [w.astype(np.float32) for w in build_head(d, classes, {**hp, "l2": 0.0}).get_weights()]


def _dropout(x, rate, seed):
    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed) >= rate
    return tf.where(keep, x / (1.0 - rate), 0.0)


def _logits(weights, x, rate, seed):
    """x [k, b, d] -> logits [k, b, classes]; dropout when seed is not None (training)."""
    if seed is not None:
        x = _dropout(x, rate, seed)
    if len(weights) == 4:
        x = tf.nn.relu(tf.einsum("kbd,kdh->kbh", x, weights[0]) + weights[1][:, None])
        if seed is not None:
            x = _dropout(x, rate, seed + [0, 1])
    return tf.einsum("kbh,khc->kbc", x, weights[-2]) + weights[-1][:, None]


def _cross_entropy(logits, y, mask):
    """Mean cross-entropy per fold over the rows where mask [k, b] is 1."""
    per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return tf.reduce_sum(per_row * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def _adam(weights, m, v, grads, active, steps_taken, lr):
    """One Adam step (Keras' formula) for the folds where active [k] is 1; the others keep all state."""
    b1, b2, eps = ADAM
    t = tf.maximum(steps_taken, 1.0)
    new_w, new_m, new_v = [], [], []
    for w, m_i, v_i, g in zip(weights, m, v, grads, strict=True):
        on = tf.reshape(active, [-1] + [1] * (len(g.shape) - 1))
        m_i = on * (b1 * m_i + (1 - b1) * g) + (1 - on) * m_i
        v_i = on * (b2 * v_i + (1 - b2) * tf.square(g)) + (1 - on) * v_i
        step = tf.reshape(lr * tf.sqrt(1 - b2**t) / (1 - b1**t), tf.shape(on))
        new_w.append(w - on * step * m_i / (tf.sqrt(v_i) + eps))
        new_m.append(m_i)
        new_v.append(v_i)
    return new_w, new_m, new_v


def _graph(d: int, classes: int, hidden: int, batch: int):
    """The traced training function for one head shape (cached: one trace per shape)."""
    key = (d, classes, hidden, batch)
    if key in _GRAPHS:
        return _GRAPHS[key]

    def train(x, y, order_idx, order_len, held_idx, held_mask, init, rate, l2, lr, epochs, patience, seed):
        k = tf.shape(order_idx)[0]
        weights = [tf.tile(w[None], tf.concat([[k], tf.ones(tf.rank(w), tf.int32)], 0)) for w in init]
        m = [tf.zeros_like(w) for w in weights]
        v = [tf.zeros_like(w) for w in weights]
        steps_taken = tf.zeros([k], tf.float32)
        x_held, y_held = tf.gather(x, held_idx), tf.gather(y, held_idx)
        steps = (tf.reduce_max(order_len) + batch - 1) // batch
        curve = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, 2])
        best, best_epoch, epoch = tf.constant(np.inf, tf.float32), tf.constant(0), tf.constant(0)
        while epoch < epochs and epoch - best_epoch <= patience:
            # Per fold, a seeded shuffle of its own training rows (padding rows sort last).
            noise = tf.random.stateless_uniform(tf.shape(order_idx), seed=[seed, epoch])
            valid = tf.range(tf.shape(order_idx)[1])[None] < order_len[:, None]
            order = tf.gather(order_idx, tf.argsort(tf.where(valid, noise, 2.0), axis=1), batch_dims=1)
            for step in tf.range(steps):
                columns = tf.range(step * batch, tf.minimum((step + 1) * batch, tf.shape(order)[1]))
                rows = tf.gather(order, columns, axis=1)
                mask = tf.cast(columns[None] < order_len[:, None], tf.float32)
                active = tf.cast(tf.reduce_sum(mask, axis=1) > 0, tf.float32)
                with tf.GradientTape() as tape:
                    tape.watch(weights)
                    logits = _logits(weights, tf.gather(x, rows), rate, tf.stack([seed, epoch * steps + step]))
                    loss = _cross_entropy(logits, tf.gather(y, rows), mask)
                    loss += l2 * tf.add_n([tf.reduce_sum(tf.square(w), axis=[1, 2]) for w in weights[::2]])
                    total = tf.reduce_sum(loss)
                steps_taken += active
                weights, m, v = _adam(weights, m, v, tape.gradient(total, weights), active, steps_taken, lr)
            logits = _logits(weights, x_held, rate, None)
            right = tf.cast(tf.argmax(logits, axis=2) == y_held, tf.float32)
            accuracy = tf.reduce_sum(right * held_mask, axis=1) / tf.reduce_sum(held_mask, axis=1)
            held_loss = _cross_entropy(logits, y_held, held_mask)
            curve = curve.write(epoch, tf.stack([accuracy, held_loss], axis=1))
            mean_loss = tf.reduce_mean(held_loss)
            if mean_loss < best:
                best, best_epoch = mean_loss, epoch
            epoch += 1
        return curve.stack(), tf.nn.softmax(_logits(weights, x_held, rate, None))

    spec = tf.TensorSpec
    signature = [
        spec([None, d], tf.float32),
        spec([None], tf.int64),
        spec([None, None], tf.int32),
        spec([None], tf.int32),
        spec([None, None], tf.int32),
        spec([None, None], tf.float32),
        [spec(shape, tf.float32) for shape in _shapes(d, classes, hidden)],
        *[spec([], tf.float32)] * 3,
        *[spec([], tf.int32)] * 3,
    ]
    _GRAPHS[key] = tf.function(train, input_signature=signature)
    return _GRAPHS[key]


def _shapes(d: int, classes: int, hidden: int) -> list[tuple]:
    sizes = [(d, hidden), (hidden, classes)] if hidden else [(d, classes)]
    return [shape for fan_in, fan_out in sizes for shape in ((fan_in, fan_out), (fan_out,))]


def _padded(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices per fold, padded with 0 to one width: ([k, width] int32, lengths [k])."""
    width = max(len(g) for g in groups)
    table = np.zeros((len(groups), width), np.int32)
    for i, g in enumerate(groups):
        table[i, : len(g)] = g
    return table, np.array([len(g) for g in groups], np.int32)


def cross_validate_head(
    x: np.ndarray, y: np.ndarray, num_classes: int, hp: dict, folds: np.ndarray, patience: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Trains one head per fold on the other folds, for hp["epochs"] (or until `patience`).

    Returns (curves [folds, epochs run, 2]: held-out accuracy and cross-entropy after each
    epoch; scores [n, classes]: each photo's probabilities from the fold that left it out)."""
    ids = np.unique(folds)
    train, held = [np.flatnonzero(folds != f) for f in ids], [np.flatnonzero(folds == f) for f in ids]
    order_idx, order_len = _padded(train)
    held_idx, held_len = _padded(held)
    held_mask = (np.arange(held_idx.shape[1])[None] < held_len[:, None]).astype(np.float32)
    hidden, seed = int(hp["hidden_units"]), int(hp["seed"])
    graph = _graph(x.shape[1], num_classes, hidden, int(hp["batch_size"]))
    curves, held_scores = graph(
        x.astype(np.float32),
        y.astype(np.int64),
        order_idx,
        order_len,
        held_idx,
        held_mask,
        initial_weights(x.shape[1], num_classes, hp),
        float(hp["dropout"]),
        float(hp.get("l2") or 0.0),
        float(hp["learning_rate"]),
        int(hp["epochs"]),
        int(patience or hp["epochs"]),
        seed,
    )
    scores = np.zeros((len(y), num_classes), np.float32)
    for i, rows in enumerate(held):
        scores[rows] = held_scores.numpy()[i, : len(rows)]
    return np.transpose(curves.numpy(), (1, 0, 2)), scores
