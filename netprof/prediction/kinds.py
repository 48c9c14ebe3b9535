"""The kind of an op for latency: its cost category, split where one category runs unlike kernels.

A device profile fits one latency model per kind. Categories are the counting
conventions' (``netprof.costs.Category``), split where their kernels differ: a dense convolution
into 1x1 and larger kernels (different kernels, different efficiencies), and the larger ones on an
image's few channels into a stem kind of their own (``stem_input``); a depthwise one
by whether its channels are a multiple of 4 (``unaligned_channels``: ONNX Runtime's blocked
kernel needs them so), and a grouped one by whether each group's channels are a multiple of 16
(``unaligned_groups``: ONNX Runtime's blocked layout needs them so, or it runs the group in plain layout);
element-wise ops into plain arithmetic and transcendental functions (a sigmoid
or GELU costs several times a ReLU per element); pooling into max, average and a two-stage
detector's RoI pooling (bilinear samples gathered from anywhere in a map, ~5 ns an output here);
reductions into plain ones, top-k and sorts (a detector's candidate selection: their
cost is in the values they read, ~7 ns each for a top-10 of 1.3 M scores on a CPU, where
a sum reads 100 times faster), and a detector's non-maximum suppression (its cost grows
with the pairs of boxes, which its flops count, at a per-pair price no reduction has);
data movement into plain copies, copies that read their input out of order (a
transposed or permuted view made contiguous, a channel shuffle: the kernel gathers where a
plain copy streams; OpenVINO's ShuffleChannels on ShuffleNet V2's 116x28x28 map took 31 us,
its concatenation of the same bytes 1.3 us) and indexing by a boolean mask
(``boxes[scores > t]``: the kernel first finds the mask's true elements, ~15 us for a few
thousand on a CPU, whatever the few bytes it then copies).

Ops on quantized tensors (``quint8``, ``qint8``: what PyTorch's int8 quantization runs) run other
kernels than the float ones of their category (oneDNN's and FBGEMM's int8 convolutions, requantizing
element-wise ops), so they get kinds of their own, never priced as float ones: ``int8_conv_1x1``,
``int8_conv_kxk`` (grouped convolutions included), ``int8_depthwise_conv``, ``int8_depthwise_unaligned``
(``unaligned_depthwise``: more than 100 channels, not a multiple of 8, a ~100x slower kernel), ``int8_gemm``,
``int8_pooling`` (reductions too: a mean over H and W), ``int8_requantize`` (the ``quantized::``
element-wise ops: add, add_relu, mul, hardswish, cat, which compute each element in float and
requantize it to a new scale; an add of two int8 tensors takes ~2.5x a ReLU6 per element here),
``int8_elementwise`` (ATen's other ops on int8 values: ReLU, ReLU6's hardtanh and clamp, which keep the
input's scale and compare integers, and copies: cat, a channel shuffle's clone), and ``quantize`` for
the conversions between float and int8 (``quantize_per_tensor``, ``quantize_per_channel``,
``dequantize``). Views stay views.
"""

from __future__ import annotations

import enum

import torch

from netprof.analysis import OpNode
from netprof.capture.ir import TensorMeta
from netprof.costs import Category


class _Named(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


# Every category is a kind, but for those split where their kernels differ.
_SPLIT = {
    Category.CONV: ("conv_1x1", "conv_kxk", "conv_stem"),
    Category.GROUP_CONV: ("group_conv", "group_conv_unaligned"),
    Category.DEPTHWISE_CONV: ("depthwise_conv", "depthwise_unaligned"),
    Category.ELEMENTWISE: ("elementwise", "transcendental"),
    Category.POOLING: ("pooling", "max_pooling", "roi_align"),
    Category.REDUCTION: ("reduction", "topk", "nms"),
    Category.DATA_MOVEMENT: ("data_movement", "masked_index", "permuted_copy"),
}
_INT8 = (
    "int8_conv_1x1", "int8_conv_kxk", "int8_depthwise_conv", "int8_depthwise_unaligned", "int8_gemm",
    "int8_requantize", "int8_elementwise", "int8_pooling", "quantize",
)  # fmt: skip
Kind = _Named(
    "Kind",
    [(name.upper(), name) for c in Category for name in _SPLIT.get(c, (c.value,))]
    + [(name.upper(), name) for name in _INT8],
)
INT8_KINDS = frozenset(Kind(name) for name in _INT8)


# Element-wise functions that evaluate exp, log, erf or a root per element (softmax included).
_TRANSCENDENTAL = frozenset(
    {"gelu", "silu", "sigmoid", "tanh", "exp", "log", "erf", "softmax", "_softmax", "_safe_softmax",
     "log_softmax", "_log_softmax", "softplus", "mish", "elu", "selu", "celu", "sqrt", "rsqrt", "pow"}
)  # fmt: skip
_MASK_DTYPES = frozenset({torch.bool, torch.uint8})
_COPIES = frozenset({"clone", "contiguous", "copy", "_to_copy"})
_SHUFFLES = frozenset({"channel_shuffle", "native_channel_shuffle"})
_SELECTIONS = frozenset({"topk", "sort", "kthvalue", "median", "nanmedian", "mode"})
_CONVOLUTIONS = frozenset({Category.CONV, Category.GROUP_CONV, Category.DEPTHWISE_CONV})
_QUANTIZED_DTYPES = frozenset({torch.quint8, torch.qint8, torch.qint32, torch.quint4x2, torch.quint2x4})
_CONVERSIONS = frozenset(
    {"quantize_per_tensor", "quantize_per_channel", "quantize_per_tensor_dynamic", "dequantize"}
)
# ``.item()`` and its kin move one element: a dispatch and nothing else, as a view costs (``features``).
# An int8 network reads each quantized add's scale and zero point so. Priced by their bytes (as ``other``
# ops, whose model also prices factories), those few bytes would be a column of the fit that only int8
# adds have, free to take up the adds' own cost at an absurd price per byte.
_SCALAR_READS = frozenset({"_local_scalar_dense", "item"})
_INT8_CATEGORIES = {
    Category.DEPTHWISE_CONV: "int8_depthwise_conv",
    Category.GEMM: "int8_gemm",
    Category.POOLING: "int8_pooling",
    Category.REDUCTION: "int8_pooling",  # a mean over H and W on int8 costs a global average pool's
    Category.VIEW: "view",
    Category.OTHER: "other",
}


def _function(op: str) -> str:
    """``"aten.silu_.default"`` -> ``"silu_"``: the function, without namespace or overload."""
    parts = op.split(".")
    return parts[1] if len(parts) > 2 else parts[0]


def op_base(op: str) -> str:
    """``"aten.silu_.default"`` -> ``"silu"``: the function, without namespace, overload or in-place mark."""
    return _function(op).removesuffix("_")


def is_int8(node: OpNode) -> bool:
    """Whether the op reads or writes a quantized tensor (``quint8``, ``qint8``, ...)."""
    return any(meta.dtype in _QUANTIZED_DTYPES for meta in (*node.input_metas, *node.output_metas))


def _int8_kind(node: OpNode, category: Category) -> Kind:
    if op_base(node.op) in _CONVERSIONS:
        return Kind.QUANTIZE
    if category == Category.CONV:
        return Kind.INT8_CONV_1X1 if int8_kernel_volume(node) == 1 else Kind.INT8_CONV_KXK
    if category == Category.GROUP_CONV:
        return Kind.INT8_CONV_KXK
    if category == Category.DEPTHWISE_CONV and unaligned_depthwise(node):
        return Kind.INT8_DEPTHWISE_UNALIGNED
    if category in _INT8_CATEGORIES:
        return Kind(_INT8_CATEGORIES[category])
    return Kind.INT8_REQUANTIZE if node.op.startswith("quantized.") else Kind.INT8_ELEMENTWISE


def unaligned_depthwise(node: OpNode) -> bool:
    """An int8 depthwise convolution of more than 100 channels that are not a multiple of 8.

    PyTorch's x86 engine runs an int8 convolution of at most 100 groups on oneDNN (on a CPU with AVX-512
    VNNI) and the others on FBGEMM, whose fast depthwise kernel needs a multiple of 8 channels; the rest
    take a generic path. Measured here (3x3, 28x28, one thread): 96, 99, 100, 104, 112 and 120 channels
    45-61 us; 101, 108, 116 and 124 channels 6-10 ms. ShuffleNet V2's 116-channel stage runs so.
    """
    channels = _input_channels(node)
    return channels > 100 and channels % 8 != 0


def _input_channels(node: OpNode) -> int:
    """The channels (dimension 1) of the op's first input; 0 where it has none."""
    return node.input_metas[0].shape[1] if node.input_metas and len(node.input_metas[0].shape) > 1 else 0


# The most channels a stem convolution reads: an image's (grey, RGB, RGBA).
STEM_CHANNELS = 4


def stem_input(node: OpNode) -> bool:
    """A dense convolution reading at most ``STEM_CHANNELS`` channels: a network's stem, on the image.

    Its kernels run far from the price per flop and byte of the convolutions after it: OpenVINO's 3x3
    stride-2 3->32 stem at 224x224 took 137 us here as a one-op model and 120-128 us inside MobileNet V2
    and V3 and RegNetX-400MF, where its model of larger kernels put it at 55-72 us."""
    return 0 < _input_channels(node) <= STEM_CHANNELS


def unaligned_channels(node: OpNode) -> bool:
    """A float depthwise convolution whose channels are not a multiple of 4.

    ONNX Runtime's blocked (NCHWc) depthwise kernel needs them so; the rest run a generic kernel 3.5x
    slower an output (3x3, 28x28, one thread, here: 30, 58, 62, 90, 122 and 174 channels 1.40-1.54 ns an
    output, 32, 60, 64, 96, 120 and 176 channels 0.35-0.43 ns). ShuffleNet V2 x1.0's 58-channel stage runs
    so, as does any width a pruning leaves odd. Each runtime's profile prices the kind as it measured it
    (OpenVINO showed no such step).
    """
    return _input_channels(node) % 4 != 0


# ONNX Runtime's NCHWc block, ``MlasNchwcGetBlockSize()`` with AVX-512: the channels its blocked kernels
# take at a time (``unaligned_groups`` here, ``netprof.runtimes.layout``'s rules).
NCHWC_BLOCK = 16


def unaligned_groups(node: OpNode) -> bool:
    """A float grouped (not depthwise) convolution whose groups' input or output channels are not a
    multiple of 16.

    ONNX Runtime runs a grouped convolution in its blocked (NCHWc) layout only when each group's input
    and output channels fill whole blocks of ``MlasNchwcGetBlockSize()`` channels (16 with AVX-512, 8 with
    AVX2: ``nchwc_transformer.cc``); any other runs as a plain ``FusedConv``, im2col and one matrix
    multiply per group, between a reorder out of the blocked layout and one back. RegNetX-1.6GF's 24-channel
    groups so took 8.9 ms of its 21.5 ms here, where the blocked kernels of its aligned convolutions
    would have taken 3.7 ms; ResNeXt-50's 4- and 8-channel groups, RegNetY-400MF's 8 and RegNetX-8GF's
    120 run so too. Each runtime's profile prices the kind as it measured it (on a CPU whose block is 8,
    a 24-channel group runs blocked and the two kinds cost alike).
    """
    weight = node.input_metas[1].shape if len(node.input_metas) > 1 else ()
    channels = _input_channels(node)
    if len(weight) < 2 or not weight[1] or channels % weight[1]:
        return False
    groups = channels // weight[1]
    return weight[1] % NCHWC_BLOCK != 0 or (weight[0] // max(groups, 1)) % NCHWC_BLOCK != 0


def int8_kernel_volume(node: OpNode) -> int:
    """A quantized dense (``groups=1``) convolution's kernel volume (9 for 3x3), from its counts: its packed
    weight is no tensor the capture records. ``mult_adds = out.numel * c_in * volume``
    (``netprof.costs.quantized``); 0 when the op has no output or input channels to divide by."""
    outputs = node.output_metas[0].numel if node.output_metas else 0
    channels = _input_channels(node)
    if outputs == 0 or channels == 0:
        return 0
    return round(node.mult_adds / (outputs * channels))


def kind_of(node: OpNode) -> Kind:
    """``conv`` ops by their weight's spatial size (``input_metas[1]``: out, in/groups, k...); ops on
    quantized tensors by ``_int8_kind`` (the module docstring)."""
    category = Category(node.category)
    if is_int8(node):
        return _int8_kind(node, category)
    if op_base(node.op) in _SCALAR_READS:
        return Kind.VIEW
    if category == Category.CONV:
        weight = node.input_metas[1].shape if len(node.input_metas) > 1 else ()
        if all(size == 1 for size in weight[2:]):
            return Kind.CONV_1X1
        return Kind.CONV_STEM if stem_input(node) else Kind.CONV_KXK
    if category == Category.DEPTHWISE_CONV and unaligned_channels(node):
        return Kind.DEPTHWISE_UNALIGNED
    if category == Category.GROUP_CONV and unaligned_groups(node):
        return Kind.GROUP_CONV_UNALIGNED
    if category == Category.ELEMENTWISE and op_base(node.op) in _TRANSCENDENTAL:
        return Kind.TRANSCENDENTAL
    if category == Category.POOLING and op_base(node.op).startswith("max_pool"):
        return Kind.MAX_POOLING
    if category == Category.POOLING and op_base(node.op) == "roi_align":
        return Kind.ROI_ALIGN
    if category == Category.REDUCTION and op_base(node.op) == "nms":
        return Kind.NMS
    if category == Category.REDUCTION and op_base(node.op) in _SELECTIONS:
        return Kind.TOPK
    if category == Category.DATA_MOVEMENT and op_base(node.op) == "index" and _masks(node):
        return Kind.MASKED_INDEX
    if category == Category.DATA_MOVEMENT and permuted_copy(node):
        return Kind.PERMUTED_COPY
    return Kind(category.value)


def permuted_copy(node: OpNode) -> bool:
    """A channel shuffle, or a copy whose input is not laid out in its own order (a transpose or permute
    made contiguous, ``view -> transpose -> contiguous`` the ShuffleNet idiom)."""
    base = op_base(node.op)
    if base in _SHUFFLES:
        return True
    return base in _COPIES and bool(node.input_metas) and not _contiguous(node.input_metas[0])


# Where a grouped convolution's per-call buffers start to come back as fresh pages (``transient_bytes``).
# The calibration's synthetic networks fit its price about as well with any line from 1 to 64 MiB, so it
# was chosen on models: half the 16 MiB L3 of this project's AMD EPYC (among 0.5 to 16 MiB, torchvision at
# batch 1). On its Xeon at batch 8 (three windows, each calibrated and measured together), 4 to 16 MiB put
# 39-48% of 23 mobile models within 10% (MAPE 11-14%), 32 MiB 17-22%, and half the 480 MiB L3 Linux lists
# 13-22% (MAPE 21-24%) (``benchmarks/cache_lines.py``, results/cache_lines_t1_b8_xeon_w*.md).
FRESH_PAGES_BYTES = 8 * 2**20


def _contiguous(meta: TensorMeta) -> bool:
    """Whether ``meta``'s elements lie in row-major order of its shape (sizes of one may have any stride)."""
    expected = 1
    for size, stride in zip(reversed(meta.shape), reversed(meta.stride)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def transient_bytes(node: OpNode, threshold_bytes: int = FRESH_PAGES_BYTES) -> int:
    """A depthwise or grouped convolution's per-call buffers (input plus output bytes) when they exceed
    ``threshold_bytes``, else 0.

    On CPU a grouped convolution runs on oneDNN in a blocked layout: each call reorders its plain
    input into a new buffer and its result back, buffers freed at the end of the call. In a network
    large ones land at the top of glibc's heap, which is handed back to the kernel after the call, so
    the next pass touches them as fresh pages (a page fault and a zeroed page per 4 KiB, ~1.3 us here:
    mobilenet_v2's 96-channel 112x112 stride-2 depthwise takes 2.1 ms in the network, 0.6 ms alone,
    with 1176 minor faults per pass, 4.8 MB, its input's size; at batch 8 its 14,000 faults are a
    third of the network's time). A loop of one op never sees this: the same pages come back every
    pass. Small buffers come from the heap's free lists and rarely fault; where the line falls depends
    on the allocator's history, not on the cache, so the profile fits the price on synthetic networks
    and the line is ``FRESH_PAGES_BYTES``.
    An int8 convolution is left out: its own kinds carry what it costs inside a network.
    """
    grouped = Category(node.category) in (Category.DEPTHWISE_CONV, Category.GROUP_CONV)
    if not grouped or not node.input_metas or is_int8(node):
        return 0
    moved = node.input_metas[0].nbytes + sum(meta.nbytes for meta in node.output_metas)
    return moved if moved > threshold_bytes else 0


# glibc maps an allocation above its mmap threshold fresh from the kernel and unmaps it when it is freed.
# The threshold rises to the size of what a program frees, but never past 32 MiB on 64-bit Linux
# (DEFAULT_MMAP_THRESHOLD_MAX), which is also why ``pages.page_fault_cost`` probes 64 MiB.
MMAP_THRESHOLD_MAX = 32 * 2**20


def mapped_output_bytes(node: OpNode) -> int:
    """The bytes of an op's outputs larger than glibc's largest mmap threshold: every call maps them fresh
    and faults them in page by page. At batch 8 a mobile network's early maps pass it: TF-style same
    padding of a 96x112x112 map (38.5 MB) took 14 ms in tf_mobilenetv3_large_minimal_100 on the Xeon,
    priced at 1.1 ms as a copy. Prediction adds them at the measured page-fault cost on top of the fitted
    kinds; taking them off the calibration's points first (a one-op loop maps them too) made its batch-8
    predictions of mobile models far too fast (README). A grouped convolution's buffers are its
    ``transient_bytes``; a view, an in-place op and an allocation map nothing of their own.
    """
    grouped = Category(node.category) in (Category.DEPTHWISE_CONV, Category.GROUP_CONV)
    if grouped or kind_of(node) in (Kind.VIEW, Kind.OTHER) or _function(node.op).endswith("_"):
        return 0
    return sum(meta.nbytes for meta in node.output_metas if meta.nbytes > MMAP_THRESHOLD_MAX)


def runs_kernel(kind: Kind) -> bool:
    """Whether an op of ``kind`` runs a kernel, and so pays what a network costs beyond a one-op loop
    (``network_op_s``, ``loop_cached_bytes``): a view does not."""
    return kind is not Kind.VIEW


def loop_cached_bytes(node: OpNode, l2_bytes: int) -> int:
    """An op's bytes when they fit in the per-core L2 cache, else 0: what a loop of the op alone keeps
    there and a network fetches from further out.

    A one-op micro-benchmark reads the same weights and input pass after pass, so while they fit in L2
    they come from it; in a network the op last touched its weights a pass ago, and the ops between
    have streamed megabytes through. An op past L2 streams from the last level in its loop too. On the
    Xeon VM (2 MiB L2, an L3 slow to reach) the leaf modules of torchvision's mobile networks, each
    called in network order, took 1.44-1.61x what the same call took right after, as in a loop
    (``benchmarks/network_vs_loop.py``)."""
    return node.mem_access_bytes if node.mem_access_bytes <= l2_bytes else 0


def past_cache_bytes(node: OpNode, llc_bytes: int) -> int:
    """The bytes an op moves beyond what the last-level cache holds: ``max(0, mem_access_bytes - llc)``.

    An op whose inputs, weights and outputs fit in the LLC streams them from cache, and its producer left
    them there; past that size the rest comes from DRAM, at a higher cost per byte.
    """
    return max(0, node.mem_access_bytes - llc_bytes)


def features(node: OpNode, kind: Kind) -> tuple[int, int, int]:
    """``(flops, mem_access_bytes, relayout_bytes)`` the model of its kind (``kind_of(node)``) prices: none for a view, whose latency
    is its launch (a scalar read's one element included); for a boolean-mask index, its mask's elements and
    the bytes it writes (``masked_index_features``). ``relayout_bytes`` are what the kernel lays out
    again on every call: a float convolution's weight (``weight_bytes``), an int8 one's input when it is
    not in channels-last order (``int8_relayout_bytes``)."""
    if kind is Kind.VIEW:
        return 0, 0, 0
    if kind is Kind.MASKED_INDEX:
        return masked_index_features(node)
    relayout = int8_relayout_bytes(node) if kind in INT8_KINDS else weight_bytes(node)
    return node.flops, node.mem_access_bytes, relayout


def masked_index_features(node: OpNode) -> tuple[int, int, int]:
    """``(mask elements, bytes written, 0)``: indexing by a boolean mask scans the whole mask, then copies
    what it selects. Its bytes read do not price it: on this CPU a mask of 1.3 M scores costs 0.8 ns an
    element when 1% is selected and 4.8 ns when all is, at nearly the same bytes read (the values are
    read only where selected); the mask's length and the bytes written do (0.8 ns and ~1 ns a byte)."""
    return sum(meta.numel for meta in _masks(node)), sum(meta.nbytes for meta in node.output_metas), 0


def _masks(node: OpNode) -> list[TensorMeta]:
    """An index op's boolean (or byte) mask indices: its inputs after the indexed tensor."""
    return [meta for meta in node.input_metas[1:] if meta.dtype in _MASK_DTYPES]


def int8_relayout_bytes(node: OpNode) -> int:
    """An int8 convolution's input bytes when the input is not in channels-last order, else 0.

    Quantized tensors between int8 layers are channels-last; a network's image (the stem's input) or a
    channel slice (ShuffleNet's split, a concatenation) is not, and the kernel reorders it first: an int8
    1x1 convolution on ShuffleNet V2's 58-channel half at 28x28 took 49-54 us here, on a channels-last
    input 32-36 us.
    """
    if Category(node.category) not in _CONVOLUTIONS or not node.input_metas:
        return 0
    x = node.input_metas[0]
    return 0 if len(x.shape) != 4 or _channels_last(x.shape, x.stride) else x.nbytes


def _channels_last(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether an ``[n, c, h, w]`` tensor is dense in ``n, h, w, c`` order (sizes of 1 have any stride)."""
    expected = 1
    for dim in (1, 3, 2, 0):
        if shape[dim] != 1 and stride[dim] != expected:
            return False
        expected *= shape[dim]
    return True


def weight_bytes(node: OpNode) -> int:
    """A convolution's weight bytes: CPU backends re-layout the weight on every call, a cost in its size."""
    if Category(node.category) in _CONVOLUTIONS and len(node.input_metas) > 1:
        return node.input_metas[1].nbytes
    return 0
