"""k-fold cross-validation of the head as one batched graph: every fold, and every trial of one
head shape, trains at once.

The Tuner scores a trial, and OutOfFold predicts every photo, by training one head per
fold. Each fold's head is fit_head's procedure (models/head.py): [dropout ->] (dense ReLU
-> dropout ->) dense softmax, Glorot-uniform kernels and zero biases (the same initial
weights in every fold), L2 on the kernels, Adam (Keras' defaults), minibatches of
`batch_size` in a seeded shuffle per epoch, the last one partial. Here the k heads are
one set of stacked weights [k, ...], so a step is a few batched matmuls for all folds
instead of one small Keras step per fold, and a fold whose epoch has fewer minibatches
sits out the extra step (no update, its Adam state kept).

Dropout rate, L2 and learning rate are one value per head, so the Tuner's trials of one
shape (hidden units, batch size) train together, T trials x k folds heads in one graph,
traced once per shape. A trial's heads see the same minibatches and dropout masks in each
fold as every other trial's (common random numbers), so a trial scores the same batched
or alone. With `patience`, a trial's heads stop once its mean held-out loss over the folds
has not improved for that many epochs: the epoch a trial picks (the mean curve's lowest
loss) is the same unless the loss falls again later, and a trial that peaks early costs a
fraction of the epochs; the graph runs until the last trial stops.
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


def _tiled(t, trials):
    """[k, ...] per fold -> [trials * k, ...]: the same for every trial (head m is fold m % k)."""
    return tf.tile(t, tf.concat([[trials], tf.ones(tf.rank(t) - 1, tf.int32)], 0))


def _noise(shape, seed, trials):
    """Uniform noise for dropout masks [trials * k, ...]: one draw per fold, shared by the trials."""
    folds_shape = tf.concat([[shape[0] // trials], shape[1:]], 0)
    return _tiled(tf.random.stateless_uniform(folds_shape, seed=seed), trials)


def _dropout(x, rate, noise):
    rate = rate[:, None, None]
    return tf.where(noise >= rate, x / (1.0 - rate), 0.0)


def _logits(weights, x, rate, noise=None):
    """x [m, b, d] -> logits [m, b, classes]; dropout when noise (inputs', hidden layer's) is given (training)."""
    if noise is not None:
        x = _dropout(x, rate, noise[0])
    if len(weights) == 4:
        x = tf.nn.relu(tf.einsum("kbd,kdh->kbh", x, weights[0]) + weights[1][:, None])
        if noise is not None:
            x = _dropout(x, rate, noise[1])
    return tf.einsum("kbh,khc->kbc", x, weights[-2]) + weights[-1][:, None]


@tf.function(jit_compile=True)
def _step(weights, m, v, steps_taken, x, y, mask, active, noise, rate, l2, lr):
    """One minibatch step of every head, compiled by XLA (the elementwise Adam ops fuse)."""
    with tf.GradientTape() as tape:
        tape.watch(weights)
        loss = _cross_entropy(_logits(weights, x, rate, noise), y, mask)
        loss += l2 * tf.add_n([tf.reduce_sum(tf.square(w), axis=[1, 2]) for w in weights[::2]])
        total = tf.reduce_sum(loss)
    steps_taken += active
    weights, m, v = _adam(weights, m, v, tape.gradient(total, weights), active, steps_taken, lr)
    return weights, m, v, steps_taken


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
        step = tf.reshape(lr * tf.sqrt(1 - b2**t) / (1 - b1**t), tf.shape(on))  # lr, t: [heads]
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
        # order_idx, order_len, held_idx, held_mask: per fold [k, ...]; rate, l2, lr: per trial [trials].
        k, trials = tf.shape(order_idx)[0], tf.shape(rate)[0]
        heads = trials * k  # head m: trial m // k, fold m % k
        per_head = lambda v: tf.repeat(v, k)  # noqa: E731
        rate, l2, lr = per_head(rate), per_head(l2), per_head(lr)
        weights = [tf.tile(w[None], tf.concat([[heads], tf.ones(tf.rank(w), tf.int32)], 0)) for w in init]
        m = [tf.zeros_like(w) for w in weights]
        v = [tf.zeros_like(w) for w in weights]
        steps_taken = tf.zeros([heads], tf.float32)
        x_held, y_held = _tiled(tf.gather(x, held_idx), trials), _tiled(tf.gather(y, held_idx), trials)
        held_mask_all = _tiled(held_mask, trials)
        steps = (tf.reduce_max(order_len) + batch - 1) // batch
        curve = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, 2])
        best = tf.fill([trials], tf.constant(np.inf, tf.float32))
        best_epoch, ran = tf.zeros([trials], tf.int32), tf.zeros([trials], tf.int32)
        epoch = tf.constant(0)
        running = tf.ones([trials], tf.bool)
        while epoch < epochs and tf.reduce_any(running):
            ran += tf.cast(running, tf.int32)
            head_on = per_head(tf.cast(running, tf.float32))
            # Per fold, a seeded shuffle of its own training rows (padding rows sort last).
            noise = tf.random.stateless_uniform(tf.shape(order_idx), seed=[seed, epoch])
            valid = tf.range(tf.shape(order_idx)[1])[None] < order_len[:, None]
            order = tf.gather(order_idx, tf.argsort(tf.where(valid, noise, 2.0), axis=1), batch_dims=1)
            for step in tf.range(steps):
                # Always `batch` columns (one XLA shape): past a fold's rows, masked out.
                columns = step * batch + tf.range(batch)
                rows = _tiled(tf.gather(order, tf.minimum(columns, tf.shape(order)[1] - 1), axis=1), trials)
                mask = _tiled(tf.cast(columns[None] < order_len[:, None], tf.float32), trials)
                active = tf.cast(tf.reduce_sum(mask, axis=1) > 0, tf.float32) * head_on
                x_rows = tf.gather(x, rows)
                step_seed = tf.stack([seed, epoch * steps + step])
                noise = [_noise(tf.shape(x_rows), step_seed, trials)]
                if hidden:
                    noise.append(_noise(tf.stack([heads, tf.shape(rows)[1], hidden]), step_seed + [0, 1], trials))
                weights, m, v, steps_taken = _step(
                    weights, m, v, steps_taken, x_rows, tf.gather(y, rows), mask, active, noise, rate, l2, lr
                )
            logits = _logits(weights, x_held, rate)
            right = tf.cast(tf.argmax(logits, axis=2) == y_held, tf.float32)
            accuracy = tf.reduce_sum(right * held_mask_all, axis=1) / tf.reduce_sum(held_mask_all, axis=1)
            held_loss = _cross_entropy(logits, y_held, held_mask_all)
            curve = curve.write(epoch, tf.stack([accuracy, held_loss], axis=1))
            mean_loss = tf.reduce_mean(tf.reshape(held_loss, [trials, k]), axis=1)
            improved = running & (mean_loss < best)
            best = tf.where(improved, mean_loss, best)
            best_epoch = tf.where(improved, epoch, best_epoch)
            epoch += 1
            running = running & (epoch - best_epoch <= patience)
        return curve.stack(), tf.nn.softmax(_logits(weights, x_held, rate)), ran

    spec = tf.TensorSpec
    signature = [
        spec([None, d], tf.float32),
        spec([None], tf.int64),
        spec([None, None], tf.int32),
        spec([None], tf.int32),
        spec([None, None], tf.int32),
        spec([None, None], tf.float32),
        [spec(shape, tf.float32) for shape in _shapes(d, classes, hidden)],
        *[spec([None], tf.float32)] * 3,
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
    return cross_validate_heads(x, y, num_classes, [hp], folds, patience)[0]


def cross_validate_heads(
    x: np.ndarray, y: np.ndarray, num_classes: int, hps: list[dict], folds: np.ndarray, patience: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """cross_validate_head for several hyperparameter sets of one shape (the same hidden units,
    batch size, epochs and seed; their dropout, L2 and learning rate may differ), in one graph:
    each set's (curves, scores), as cross_validate_head would give it alone."""
    shape = {(int(hp["hidden_units"]), int(hp["batch_size"]), int(hp["epochs"]), int(hp["seed"])) for hp in hps}
    if len(shape) != 1:
        raise ValueError(f"one graph trains one head shape, got (hidden, batch, epochs, seed) {sorted(shape)}")
    ((hidden, batch, epochs, seed),) = shape
    ids = np.unique(folds)
    train, held = [np.flatnonzero(folds != f) for f in ids], [np.flatnonzero(folds == f) for f in ids]
    order_idx, order_len = _padded(train)
    held_idx, held_len = _padded(held)
    held_mask = (np.arange(held_idx.shape[1])[None] < held_len[:, None]).astype(np.float32)
    graph = _graph(x.shape[1], num_classes, hidden, batch)
    values = lambda name: np.array([float(hp.get(name) or 0.0) for hp in hps], np.float32)  # noqa: E731
    curves, held_scores, ran = graph(
        x.astype(np.float32),
        y.astype(np.int64),
        order_idx,
        order_len,
        held_idx,
        held_mask,
        initial_weights(x.shape[1], num_classes, hps[0]),
        values("dropout"),
        values("l2"),
        values("learning_rate"),
        epochs,
        int(patience or epochs),
        seed,
    )
    curves, held_scores, k = np.transpose(curves.numpy(), (1, 0, 2)), held_scores.numpy(), len(ids)
    results = []
    for t, epochs_run in enumerate(ran.numpy()):
        scores = np.zeros((len(y), num_classes), np.float32)
        for i, rows in enumerate(held):
            scores[rows] = held_scores[t * k + i, : len(rows)]
        results.append((curves[t * k : (t + 1) * k, :epochs_run], scores))
    return results
