"""tinygrad_edu.jit: a replayed step equals the eager step bit for bit, re-records on a new
signature, and refuses (JitError naming the user's line) what a replay could not follow."""
import numpy as np
import pytest

import nn
import tinygrad_edu
from tinygrad_edu import JitError, Tensor, grad, jit


def float64(array, requires_grad=False, name=None):
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, name=name)


def arrays_of(values):
    """Every array a training setup holds (tensors' data and .grad, optimiser state), by position."""
    found = []
    for value in values:
        if isinstance(value, Tensor):
            found += [value.data, None if value.grad is None else value.grad.data]
        elif isinstance(value, nn.Optimizer):
            found += [value.lr] + [a for state in value.state for a in state.values()]
        elif isinstance(value, nn.StepLR):
            found += [value.steps, value.base_lr]
        elif isinstance(value, nn.Module):
            found += arrays_of(value.parameters())
        elif isinstance(value, (tuple, list)):
            found += arrays_of(value)
    return found


def assert_same(eager, jitted, what):
    assert len(eager) == len(jitted), what
    for i, (a, b) in enumerate(zip(eager, jitted)):
        if a is None or b is None:
            assert a is None and b is None, f"{what}, array {i}: one is None"
        else:
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{what}, array {i}: {a} != {b}"


def assert_jit_matches_eager(make, batches, check=False):
    """make() -> (step, state): two identical setups, one stepped eagerly, one through jit,
    compared after every step: results, parameters, gradients, optimiser state."""
    eager_step, eager_state = make()
    jit_step, jit_state = make()
    jitted = jit(jit_step, check=check)
    for n, args in enumerate(batches):
        expected, got = eager_step(*args), jitted(*args)
        expected = expected if isinstance(expected, tuple) or expected is None else (expected,)
        got = got if isinstance(got, tuple) or got is None else (got,)
        if expected is not None:
            assert all(not t.requires_grad and t.op is None for t in got)
            assert_same([t.data for t in expected], [t.data for t in got], f"step {n}: results")
        assert_same(arrays_of(eager_state), arrays_of(jit_state), f"step {n}: state")
    return jitted


def training_step(model, optimizer, loss_of):
    """The usual step: zero the gradients, loss_of(model(inputs), targets), backward, update; returns the loss."""
    def step(inputs, targets):
        optimizer.zero_grad()
        loss = loss_of(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss
    return step


def xor_batches(n_steps, batch=8, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_steps):
        x = rng.standard_normal((batch, 2)).astype(dtype)
        y = np.eye(2, dtype=dtype)[((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)]
        batches.append((Tensor(x, dtype=dtype), Tensor(y, dtype=dtype)))
    return batches


# --- bit for bit -----------------------------------------------------------------

def test_the_articles_network_with_sgd():
    def make():
        W1 = float64(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True, name="W1")
        W2 = float64(np.random.default_rng(2).standard_normal((3, 2)), requires_grad=True, name="W2")
        optimizer = nn.SGD([W1, W2], lr=0.5)

        def step(x, y):
            h2 = ((x @ W1).sigmoid() @ W2).sigmoid()
            loss = ((y - h2) ** 2).sum() / (2 * len(x)) + 1e-4 * ((W1 ** 2).sum() + (W2 ** 2).sum()) / (2 * len(x))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss
        return step, [W1, W2, optimizer]
    step = assert_jit_matches_eager(make, xor_batches(6))
    assert "np.matmul" in step.program and "np.exp" in repr(step)


def test_an_mlp_with_momentum_and_weight_decay():
    def make():
        model = nn.MLP([2, 8, 2], activation="tanh", seed=3)
        optimizer = nn.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        return training_step(model, optimizer, nn.cross_entropy), [model, optimizer]
    assert_jit_matches_eager(make, xor_batches(6, dtype=np.float32))


def test_a_digits_sized_mlp_with_adam_in_float32():
    rng = np.random.default_rng(4)
    batches = [(Tensor(rng.random((32, 64), dtype=np.float32)),
                Tensor(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)])) for _ in range(5)]

    def make():
        model = nn.MLP([64, 32, 10], activation="relu", seed=5)
        optimizer = nn.Adam(model.parameters(), lr=3e-3)
        return training_step(model, optimizer, nn.cross_entropy), [model, optimizer]
    assert_jit_matches_eager(make, batches)
    assert all(p.dtype == np.float32 for p in make()[1][0].parameters())


def test_a_schedule_and_clipping_inside_the_step():
    def make():
        model = nn.MLP([2, 4, 2], seed=6, dtype=np.float64)
        optimizer = nn.SGD(model.parameters(), lr=2.0)
        schedule = nn.StepLR(optimizer, step_size=2, gamma=0.5)

        def step(x, y):
            optimizer.zero_grad()
            loss = nn.mse_loss(model(x), y)
            loss.backward()
            norm = nn.clip_grad_norm(model.parameters(), max_norm=0.05)
            optimizer.step()
            schedule.step()
            return loss, norm
        return step, [model, optimizer, schedule]
    assert_jit_matches_eager(make, xor_batches(7))


def test_exponential_schedule_and_adam_float64():
    def make():
        w = float64([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
        optimizer = nn.Adam([w], lr=0.1)
        schedule = nn.ExponentialLR(optimizer, gamma=0.9)

        def step(x, y):
            optimizer.zero_grad()
            nn.mse_loss(x @ w, y).backward()
            optimizer.step()
            schedule.step()
        return step, [w, optimizer, schedule]
    assert_jit_matches_eager(make, xor_batches(6))


def test_create_graph_a_hessian_vector_product_step():
    v = np.random.default_rng(7).standard_normal((2, 3))

    def make():
        W1 = float64(np.random.default_rng(8).standard_normal((2, 3)), requires_grad=True)
        W2 = float64(np.random.default_rng(9).standard_normal((3, 2)))

        def step(x, y):
            loss = (((x @ W1).sigmoid() @ W2).sigmoid() - y).square().mean()
            g, = grad(loss, W1, create_graph=True)
            hv, = grad((g * v).sum(), W1)
            W1.data = W1.data - 0.1 * hv.data  # a made-up Newton-like step, so the input changes
            return hv, g.detach()
        return step, [W1, W2]
    assert_jit_matches_eager(make, xor_batches(4))


def test_grad_without_backward_leaves_dot_grad_alone():
    def make():
        w = float64([1.0, -2.0, 0.5], requires_grad=True)

        def step(x):
            g, = grad((x * w).tanh().sum(), w)
            w.data = w.data - 0.3 * g.data
            return g
        return step, [w]
    rng = np.random.default_rng(10)
    assert_jit_matches_eager(make, [(float64(rng.standard_normal(3)),) for _ in range(4)])


def test_a_new_shape_records_again_and_each_signature_keeps_its_recording():
    def make():
        w = float64([[0.3, 0.2], [-0.7, 0.1]], requires_grad=True)
        optimizer = nn.SGD([w], lr=0.1)

        def step(x, y):
            optimizer.zero_grad()
            loss = nn.mse_loss(x @ w, y)
            loss.backward()
            optimizer.step()
            return loss
        return step, [w, optimizer]
    small, large = xor_batches(3, batch=4), xor_batches(3, batch=9, seed=1)
    step = assert_jit_matches_eager(make, [small[0], large[0], small[1], large[1], small[2], large[2]])
    assert sum(len(recordings) for recordings in step._recordings.values()) >= 2


def test_returned_tensors_are_new_each_call_and_dot_grad_shows_the_latest_step():
    w = float64([1.0, 2.0], requires_grad=True)

    @jit
    def step(x):
        w.grad = None
        loss = (w * x).sum()
        loss.backward()
        return loss
    first = step(float64([1.0, 1.0]))
    step(float64([1.0, 1.0]))
    second = step(float64([2.0, 3.0]))
    assert first.item() == 3.0 and second.item() == 8.0
    assert np.array_equal(w.grad.data, [2.0, 3.0])


def test_check_true_records_twice_and_accepts_a_repeatable_step():
    def make():
        w = float64([0.5, -0.5], requires_grad=True)
        optimizer = nn.SGD([w], lr=0.1, momentum=0.5)

        def step(x):
            optimizer.zero_grad()
            (w * x).square().sum().backward()
            optimizer.step()
        return step, [w, optimizer]
    rng = np.random.default_rng(11)
    assert_jit_matches_eager(make, [(float64(rng.standard_normal(2)),) for _ in range(5)], check=True)


frozen_scale = [1.0]


def test_jit_is_a_decorator_with_or_without_arguments():
    def double(x):
        return x * 2
    for jitted in (jit(double), jit(double, True), jit(check=True)(double), jit()(double)):
        for _ in range(3):
            assert np.array_equal(jitted(float64([1.0, 2.0])).data, [2.0, 4.0])
    assert jit(double).__name__ == "double"


def test_check_true_finds_a_python_value_that_changes_between_calls():
    w = float64([1.0, 2.0], requires_grad=True)

    @jit(check=True)
    def step(x):
        frozen_scale[0] += 1.0  # read as a Python number: frozen in one recording, different in the next
        return x * w * frozen_scale[0]
    step(float64([1.0, 1.0]))
    with pytest.raises(JitError, match="different program"):
        step(float64([1.0, 1.0]))


# --- refusals name the user's line ---------------------------------------------------

def refusing_steps():
    w = float64([1.0, -1.0], requires_grad=True)
    steps = {
        "item": lambda x: Tensor([(x * w).sum().item()]),
        "asarray": lambda x: Tensor(np.asarray(x * w) + 1),
        "random": lambda x: x * np.random.standard_normal(2),
        "default_rng": lambda x: x * Tensor.randn(2),
    }
    if hasattr(Tensor, "__float__"):
        steps["float"] = lambda x: x * float((x * w).sum())
        steps["int"] = lambda x: x * int((x * w).sum())
    if hasattr(Tensor, "__bool__"):
        steps["bool"] = lambda x: x * w if bool((x * w).sum()) else x
    if hasattr(Tensor, "tolist"):
        steps["tolist"] = lambda x: Tensor((x * w).tolist())
    if hasattr(tinygrad_edu, "observe"):
        steps["numpy"] = lambda x: Tensor((x * w).numpy() * 2)
    return steps


@pytest.mark.parametrize("how", list(refusing_steps()))
def test_refusals_raise_jit_error_naming_the_users_line(how):
    step = jit(refusing_steps()[how])
    with pytest.raises(JitError) as error:
        step(float64([1.0, 2.0]))
    assert "test_jit.py" in str(error.value) and f'"{how}"' in str(error.value)  # the source of the line


def test_a_refused_recording_leaves_the_parameters_usable():
    w = float64([1.0, -1.0], requires_grad=True)

    @jit
    def step(x):
        loss = (x * w).sum()
        loss.backward()
        return Tensor([loss.item()])
    with pytest.raises(JitError):
        step(float64([1.0, 2.0]))
    assert type(w.data) is np.ndarray and np.array_equal(w.data, [1.0, -1.0])
    assert (w * 2).sum().item() == 0.0


def test_draws_from_a_generator_reached_by_closure_are_recorded_as_draws():
    def make():
        rng = np.random.default_rng(0)  # as Dropout keeps one
        w = float64([1.0, 2.0, 3.0], requires_grad=True)

        def step(x):
            keep = Tensor(rng.random(3) >= 0.5, dtype=np.float64)  # a new mask each call
            loss = (x * w * keep).sum()
            loss.backward()
            w.data = w.data - 0.1 * w.grad.data
            w.grad = None
            return loss, keep
        return step, [w]
    step = assert_jit_matches_eager(make, [(float64([1.0, -1.0, 2.0]),)] * 8)
    assert "Generator.random" in step.program


def test_a_generator_the_step_cannot_swap_is_refused():
    frozen = (np.random.default_rng(0),)  # in a tuple: jit cannot stand in for it
    w = float64([1.0, 2.0], requires_grad=True)

    @jit
    def step(x):
        return x * w * Tensor(frozen[0].random(2))
    with pytest.raises(JitError, match="random"):
        step(float64([1.0, 1.0]))


def test_an_array_a_closure_variable_names_is_data_the_step_must_not_change():
    count = np.zeros(())

    @jit
    def step(x):
        np.add(count, 1, out=count)
        return x * 2
    with pytest.raises(JitError, match="changed an array"):
        step(float64([1.0]))


def test_a_state_array_replaced_instead_of_updated_is_refused():
    class Counter:
        def __init__(self):
            self.count = np.zeros(())
    counter = Counter()

    @jit
    def step(x):
        counter.count = counter.count + 1
        return x * 2
    with pytest.raises(JitError, match="in place"):
        step(float64([1.0]))


def test_the_program_lists_one_numpy_call_per_line():
    w = float64([1.0, 2.0], requires_grad=True, name="w")

    @jit
    def step(x):
        return (x * w).tanh()
    assert "not recorded" in step.program
    step(float64([0.5, 0.5]))
    lines = step.program.splitlines()
    assert lines[1] == "b0 = np.multiply(arg0, w)" and lines[2] == "b1 = np.tanh(b0)"
    assert lines[-1] == "# return b1.view(2,)" or lines[-1].startswith("# return b1")


def test_a_module_switching_to_eval_records_again():
    class Halving(nn.Module):
        def __init__(self):
            self.training = True  # as module.train() and module.eval() set it

        def forward(self, x):
            return x * 0.5 if self.training else x  # a Python branch: frozen in each recording
    halving = Halving()
    model = nn.Sequential(nn.Linear(2, 2, seed=0, dtype=np.float64), halving)

    @jit
    def step(x):
        return model(x)
    x = float64([[1.0, 2.0]])
    trained = step(x).data
    halving.training = False
    assert np.array_equal(step(x).data, trained * 2)
    halving.training = True
    assert np.array_equal(step(x).data, trained)


def test_a_parameter_the_scan_cannot_reach_is_refused():
    class Hidden:
        __slots__ = ("weight",)  # no __dict__: jit's search of the closure does not look inside
    hidden = Hidden()
    hidden.weight = float64([1.0, 2.0], requires_grad=True)

    @jit
    def step(x):
        return (x * hidden.weight).sum()
    if not hasattr(tinygrad_edu, "observe"):
        pytest.skip("the engine has no observe() to watch ops with")
    with pytest.raises(JitError, match="neither as an argument nor by closure"):
        step(float64([1.0, 1.0]))


def test_an_input_of_a_new_shape_reached_by_closure_records_again():
    w = float64([1.0, 2.0], requires_grad=True)

    @jit
    def step(x):
        return x * w
    assert np.array_equal(step(float64(2.0)).data, [2.0, 4.0])
    w.data = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(step(float64(2.0)).data, [2.0, 4.0, 6.0])


def test_writing_into_a_read_only_array_fails_while_recording_as_it_does_eagerly():
    w = float64([1.0, 2.0], requires_grad=True)

    @jit
    def step(x):
        data = w.data
        data += x.data  # NumPy refuses: a tensor's array is read-only
        return x
    with pytest.raises(ValueError, match="read-only"):
        step(float64([1.0, 1.0]))
    assert np.array_equal(w.data, [1.0, 2.0])


def test_a_step_that_returns_a_parameter_from_before_its_update():
    def make():
        w = float64([1.0, -2.0], requires_grad=True)

        def step(x):
            before = w.detach()  # the same array the update replaces: the replay must keep it apart
            (x * w).square().sum().backward()
            w.data = w.data - 0.1 * w.grad.data
            w.grad = None
            return before, w.detach()
        return step, [w]
    assert_jit_matches_eager(make, [(float64([0.5, 1.5]),)] * 4)


def test_a_step_must_return_tensors_and_a_refused_one_leaves_tensors_as_they_were():
    w = float64([1.0, 2.0], requires_grad=True)
    original = w.data

    @jit
    def step(x):
        return (x * w).sum(), 3.0
    with pytest.raises(JitError, match="must return a Tensor, a tuple of Tensors or None"):
        step(float64([1.0, 1.0]))
    assert w.data is original


def test_a_leaf_the_step_makes_itself_is_part_of_the_step():
    def make():
        v = float64([0.5, -1.0])

        def step(x):
            point = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)  # made inside: new every call
            g, = grad((point * point * x * v).sum(), point)
            return g
        return step, []
    rng = np.random.default_rng(12)
    assert_jit_matches_eager(make, [(float64(rng.standard_normal(2)),) for _ in range(3)])


def test_dropout_draws_a_new_mask_every_replayed_call_as_eagerly():
    def make():
        model = nn.Sequential(nn.Linear(2, 16, seed=0, dtype=np.float64), nn.Tanh(), nn.Dropout(0.5, seed=1),
                              nn.Linear(16, 2, seed=2, dtype=np.float64))
        optimizer = nn.SGD(model.parameters(), lr=0.1)
        return training_step(model, optimizer, nn.mse_loss), [model, optimizer]
    step = assert_jit_matches_eager(make, xor_batches(5))
    assert "random" in step.program


def test_a_cnn_step_with_conv_pooling_and_adam():
    rng = np.random.default_rng(13)
    batches = [(Tensor(rng.standard_normal((4, 1, 6, 6)), dtype=np.float64),
                Tensor(np.eye(3)[rng.integers(0, 3, 4)], dtype=np.float64)) for _ in range(3)]

    def make():
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(18, 3, seed=1))
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
        optimizer = nn.Adam(model.parameters(), lr=0.01)
        return training_step(model, optimizer, nn.cross_entropy), [model, optimizer]
    assert_jit_matches_eager(make, batches)


def test_an_attention_block_with_embedding_layer_norm_and_softmax():
    tokens = np.array([[1, 4, 2, 0], [3, 3, 1, 2]])  # by closure: Embedding checks the indices' values
    rng = np.random.default_rng(14)
    batches = [(Tensor(rng.standard_normal((2, 4, 8))),) for _ in range(3)]

    def make():
        embed, norm = nn.Embedding(5, 8, seed=0), nn.LayerNorm(8)
        query, key = nn.Linear(8, 8, seed=1), nn.Linear(8, 8, seed=2)
        optimizer = nn.Adam(embed.parameters() + norm.parameters() + query.parameters() + key.parameters(), lr=0.01)

        def step(noise):
            optimizer.zero_grad()
            h = norm(embed(tokens) + noise * 0.1)
            attention = (query(h) @ key(h).transpose(0, 2, 1) / np.sqrt(8)).softmax(axis=-1)
            loss = ((attention @ h).gelu() ** 2).mean()
            loss.backward()
            optimizer.step()
            return loss
        return step, [embed, norm, query, key, optimizer]
    assert_jit_matches_eager(make, batches)


def test_indexing_and_slicing_send_their_gradients_back_through_a_replay():
    def make():
        w = float64([1.0, 2.0, 3.0, 4.0], requires_grad=True)

        def step(x):
            loss = (w[1:] * x).sum() + (w[np.array([0, 0, 2])] * x).sum() + (w[np.array([1, 0, 1, 0]) > 0] ** 2).sum()
            loss.backward()
            w.data = w.data - 0.1 * w.grad.data
            w.grad = None
            return loss
        return step, [w]
    rng = np.random.default_rng(15)
    assert_jit_matches_eager(make, [(float64(rng.standard_normal(3)),) for _ in range(4)])


def test_writing_traced_values_into_a_tensor_made_in_the_step_is_recorded():
    def make():
        w = float64([1.0, 2.0], requires_grad=True)

        def step(x):
            loss = (x * w).sum()
            loss.backward()
            buffer = Tensor([0.0, 0.0, 0.0], dtype=np.float64)
            buffer[1:] = w.grad  # NumPy's setitem on a plain array would copy the values unseen
            w.data = w.data - 0.1 * w.grad.data
            w.grad = None
            return buffer, Tensor(float(Tensor(3.0)) * np.ones(1))  # a constant's value may be read
        return step, [w]
    rng = np.random.default_rng(16)
    assert_jit_matches_eager(make, [(float64(rng.standard_normal(2)),) for _ in range(4)])


def test_integer_labels_and_embedding_indices_are_followed_by_every_replay():
    linear, embedding = nn.Linear(3, 2, seed=0), nn.Embedding(5, 3, seed=0)
    loss = jit(lambda x, labels: nn.cross_entropy(linear(x), labels))
    looked_up = jit(lambda indices: embedding(indices).sum())
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3)))
    for labels in ([0, 1], [1, 1], [1, 0]):
        assert loss(x, np.array(labels)).item() == nn.cross_entropy(linear(x), np.array(labels)).item()
    for indices in ([0, 1], [2, 4], [4, 4]):
        assert looked_up(np.array(indices)).item() == embedding(np.array(indices)).sum().item()
    assert np.isnan(loss(x, np.array([1, 5])).item())  # a bad label under jit: NaN, never a wrong number
