"""Errors in the user's own model, data or code must never be answered by resemblance.

Each text is a real TF / Keras user error as reported in the public thread named beside it (the
error lines only; tracebacks shortened where the thread's paste was long). None of them is an
install or version problem: a shape mismatch, labels outside the range, a custom layer not passed
to ``custom_objects``, a missing import in the user's script, bad data types. The resemblance
layer must leave every one unanswered, and no rule may claim them either.
"""
import pytest

from tfhelp.kb import resemble
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))

USER_ERRORS = [
    # shapes: input rank and loss / label shapes
    ("ValueError: Input 0 is incompatible with layer conv2d_1: expected ndim=4, found ndim=3",
     "https://github.com/stanford-futuredata/noscope/issues/26"),
    ("ValueError: Input 0 of layer block1_conv1 is incompatible with the layer: expected ndim=4, found ndim=3. "
     "Full shape received: [224, 224, 3]", "https://github.com/gyhandy/Visual-Reasoning-eXplanation/issues/3"),
    ("ValueError: Input 0 is incompatible with layer flatten_3: expected min_ndim=3, found ndim=2",
     "https://github.com/lukas/ml-class/issues/57"),
    ("ValueError: Input 0 of layer encoder1_ is incompatible with the layer: expected ndim=3, found ndim=4. "
     "Full shape received: (None, 64, 4, 850)", "https://github.com/tensorflow/tensorflow/issues/46794"),
    ("ValueError: Input 0 of layer sequential is incompatible with the layer: expected ndim=4, found ndim=3. "
     "Full shape received: [32, 270, 3]", "https://github.com/Sentdex/pygta5/issues/148"),
    ("ValueError: Shapes (None, 1) and (None, 10) are incompatible", "https://github.com/tensorflow/tensorflow/issues/44946"),
    ("ValueError: Shapes (None, 30) and (None, 9) are incompatible",
     "https://github.com/chauhan01/Captcha-text-extraction/issues/3"),
    ("ValueError: Shapes (None, None) and (None, 7, 7, 67) are incompatible", "https://github.com/keras-team/keras/issues/14341"),
    ("ValueError: Shapes (64, 163) and (64, 160) are incompatible", "https://github.com/vuducnghia/attention-ocr/issues/6"),
    ("InvalidArgumentError (see above for traceback): logits and labels must have the same first dimension, "
     "got logits shape [2028,1] and labels shape [676]", "https://github.com/experiencor/keras-yolo3/issues/225"),
    ("tensorflow.python.framework.errors_impl.InvalidArgumentError: logits and labels must have the same first "
     "dimension, got logits shape [250,10] and labels shape [2500]", "https://github.com/tensorflow/privacy/issues/38"),
    ("InvalidArgumentError (see above for traceback): logits and labels must be same size: logits_size=[9,2] "
     "labels_size=[10,2]", "https://github.com/perseus784/BvS/issues/4"),
    ("tensorflow.python.framework.errors_impl.InvalidArgumentError: Incompatible shapes: [7600] vs. [400,19]",
     "https://github.com/keras-team/keras/issues/11893"),
    ("InvalidArgumentError: Incompatible shapes: [200,10] vs. [200,5]\n"
     "\t [[node LogicalAnd_3 (defined at <ipython-input-11-ea6e7bc7fc28>:1) ]]",
     "https://github.com/tensorflow/tensorflow/issues/40047"),
    ("InvalidArgumentError: Incompatible shapes: [21504] vs. [1024,21]\n\t [[{{node metrics_11/acc/Equal}}]]",
     "https://github.com/susanli2016/NLP-with-Python/issues/20"),
    # labels / indices out of range
    ("InvalidArgumentError: indices[1038,1] = 509 is not in [0, 500) [[{{node loss_6/dense_14_loss/embedding_lookup}}]]",
     "https://github.com/keras-team/keras/issues/13097"),
    ("tensorflow.python.framework.errors_impl.InvalidArgumentError: indices[4,0] = 10000 is not in [0, 10000)",
     "https://github.com/TannerGilbert/Tutorials/issues/1"),
    ("tensorflow.python.framework.errors_impl.InvalidArgumentError: indices[0,0] = -1 is not in [0, 400001)\n"
     "         [[{{node embedding_1/embedding_lookup}}]]", "https://github.com/sedflix/DeepCoherence/issues/4"),
    # data types and data sizes
    ("ValueError: Failed to convert a NumPy array to a Tensor (Unsupported object type float).",
     "https://github.com/keras-team/keras/issues/14851"),
    ("ValueError: Failed to convert a NumPy array to a Tensor (Unsupported object type numpy.ndarray).",
     "https://github.com/HOD101s/RockPaperScissor-AI-/issues/1"),
    ("ValueError: Failed to convert a NumPy array to a Tensor (Unsupported object type int).",
     "https://github.com/santhisenan/DeepDefense/issues/4"),
    ("ValueError: could not convert string to float: 'bewildered'", "https://github.com/localminimum/QANet/issues/57"),
    ("UnimplementedError:  Cast string to float is not supported\n"
     "\t [[node categorical_crossentropy/Cast (defined at <ipython-input-18-09f1283382ed>:4) ]] "
     "[Op:__inference_train_function_1763]", "https://github.com/AarohiSingla/VGG-16/issues/1"),
    ("ValueError: Data cardinality is ambiguous:\n  x sizes: 30000\n  y sizes: 50000\n"
     "Make sure all arrays contain the same number of samples.", "https://github.com/tensorflow/tensorflow/issues/48660"),
    ("ValueError: No gradients provided for any variable: ['embedding/embeddings:0', 'embedding_1/embeddings:0', "
     "'gru/gru_cell/kernel:0', 'dense_1/kernel:0', 'dense_1/bias:0'].", "https://github.com/mcmillco/funcom/issues/10"),
    ("ValueError: No gradients provided for any variable, check your graph for ops that do not support gradients",
     "https://github.com/andrewliao11/CoGAN-tensorflow/issues/4"),
    # custom objects the user did not register
    ("ValueError: Unknown layer: ArcFace", "https://github.com/BenWhetton/keras-surgeon/issues/44"),
    ("ValueError: Unknown layer: RNet", "https://github.com/YerevaNN/R-NET-in-Keras/issues/35"),
    ("ValueError: Unknown layer: CustomMultiLossLayer", "https://github.com/jpsml/6-DOF-Inertial-Odometry/issues/1"),
    ("ValueError: Unknown layer: TrigPosEmbedding", "https://github.com/CyberZHG/keras-pos-embd/issues/1"),
    ("raise ValueError('Unknown ' + printable_module_name + ': ' + class_name)\nValueError: Unknown layer: HaarWaveLayer2D",
     "https://github.com/fversaci/WaveTF/issues/3"),
    ("ValueError: Unknown layer: MBBLOCK. Please ensure this object is passed to the `custom_objects` argument. "
     "See https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object fo",
     "https://github.com/komo135/trade-rl/issues/9"),
    ("ValueError: Unknown metric function: f1_m. Please ensure this object is passed to the `custom_objects` "
     "argument.", "https://github.com/TanayBhadula/malware-image-detection/issues/1"),
    ("**ValueError: Unknown metric function:iou_score**", "https://github.com/qubvel/segmentation_models/issues/471"),
    # a loss given labels of another shape (names in backticks: they must not count as symbols of a rule)
    ("ValueError: `logits` and `labels` must have the same shape, received ((None, 1) vs ()).",
     "https://github.com/CVxTz/kinship_prediction/issues/3"),
    ("ValueError: logits and labels must have the same shape ((None, 1) vs (None, 253, 23, 1))",
     "https://github.com/omarseleem92/Machine_learning_for_flood_susceptibility/issues/6"),
    # the model file was never downloaded (saved_model.pb, model.h5: file names, not a version problem)
    ("OSError: SavedModel file does not exist at: ./saved_model/{saved_model.pbtxt|saved_model.pb}",
     "https://github.com/google-research/frame-interpolation/issues/46"),
    ("OSError: SavedModel file does not exist at: model.h5/{saved_model.pbtxt|saved_model.pb}",
     "https://github.com/zhaipro/easy12306/issues/29"),
    # the user's script forgot an import
    ("NameError: name 'tf' is not defined", "https://github.com/xionghc/Facial-Expression-Recognition/issues/40"),
    ("NameError: global name 'tf' is not defined", "https://github.com/XifengGuo/CapsNet-Keras/issues/60"),
    ("NameError: name 'keras' is not defined", "https://github.com/divamgupta/image-segmentation-keras/issues/364"),
    ('  File "run_online_lstm.py", line 68, in my_dense\n'
     "    return K.expand_dims(Dense(30, activation='selu', kernel_regularizer='l1', )(x[:, :, 0]), axis=-1)\n"
     "NameError: name 'K' is not defined", "https://github.com/hust-diangroup/ns3-ai/issues/4"),
    # a full traceback through Keras' own files (paths name keras / tensorflow: they must not count)
    ("Traceback (most recent call last):\n"
     '  File "C:\\Users\\utente\\AppData\\Local\\anaconda3\\lib\\site-packages\\keras\\utils\\traceback_utils.py", '
     "line 70, in error_handler\n    raise e.with_traceback(filtered_tb) from None\n"
     '  File "C:\\Users\\utente\\AppData\\Local\\anaconda3\\lib\\site-packages\\tensorflow\\python\\framework\\'
     'constant_op.py", line 102, in convert_to_eager_tensor\n    return ops.EagerTensor(value, ctx.device_name, dtype)\n'
     "ValueError: Failed to convert a NumPy array to a Tensor (Unsupported object type float).",
     "https://github.com/charlesmalafosse/sports-betting-customloss/issues/1"),
]

TEXTS = [t for t, _ in USER_ERRORS]


def test_the_set_is_large_enough():
    assert len(USER_ERRORS) >= 30
    assert all(url.startswith("https://github.com/") for _, url in USER_ERRORS)


@pytest.mark.parametrize("text", TEXTS, ids=[f"user-error-{i}" for i in range(len(TEXTS))])
def test_user_error_gets_no_answer(text):
    report = ENGINE.diagnose(text)
    assert not any(isinstance(d, resemble.Resemblance) for d in report.diagnoses), \
        [(d.id, getattr(d, "similarity", None)) for d in report.diagnoses]
    assert report.diagnoses == [], [d.id for d in report.diagnoses]
