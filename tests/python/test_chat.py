"""Chat templates in the sandbox, BOS handling, and KV-prefix reuse in a conversation."""
import pytest

from edgeq.chat import (CHATML_TEMPLATE, ChatTemplate, ChatTemplateError, Conversation,
                        common_prefix_len, encode_chat)

# tokenizer.chat_template of SmolLM2-135M-Instruct (from the GGUF file)
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")


def test_smollm2_template_default_system():
    t = ChatTemplate(SMOLLM2_TEMPLATE, "<|im_start|>", "<|im_end|>")
    text = t.render([{"role": "user", "content": "Hi!"}])
    assert text == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained "
                    "by Hugging Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_smollm2_template_own_system_no_generation_prompt():
    t = ChatTemplate(SMOLLM2_TEMPLATE)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"}]
    assert t.render(msgs, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n")


@pytest.mark.parametrize("hostile", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ raise_exception.__globals__ }}",
    "{{ messages.__class__.__init__.__globals__['os'] }}",
    "{% for m in messages %}{{ m.__class__ }}{% endfor %}",
])
def test_hostile_template_is_refused(hostile):
    t = ChatTemplate(hostile)
    with pytest.raises(ChatTemplateError, match="unsafe|refused"):
        t.render([{"role": "user", "content": "x"}])


def test_template_cannot_mutate_messages():
    t = ChatTemplate("{{ messages.append({'role': 'x'}) }}")
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(ChatTemplateError):
        t.render(msgs)
    assert msgs == [{"role": "user", "content": "x"}]


def test_raise_exception_and_helpers():
    t = ChatTemplate("{% if messages[0]['role'] != 'user' %}"
                     "{{ raise_exception('first message must be user') }}{% endif %}ok")
    assert t.render([{"role": "user", "content": "x"}]) == "ok"
    with pytest.raises(ChatTemplateError, match="first message must be user"):
        t.render([{"role": "system", "content": "x"}])
    year = ChatTemplate("{{ strftime_now('%Y') }}").render([])
    assert year.isdigit() and len(year) == 4
    js = ChatTemplate("{{ messages[0] | tojson }}").render([{"role": "user", "content": "é"}])
    assert js == '{"role": "user", "content": "é"}'


def test_bad_template_syntax_is_one_error():
    with pytest.raises(ChatTemplateError, match="does not compile"):
        ChatTemplate("{% for %}")


def test_from_metadata_fallback_and_special_token_strings():
    md = {"tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "a"],
          "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2}
    t = ChatTemplate.from_metadata(md)
    assert t.is_fallback and t.source == CHATML_TEMPLATE
    assert (t.bos_token, t.eos_token) == ("<s>", "</s>")
    md["tokenizer.chat_template"] = "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}"
    t = ChatTemplate.from_metadata(md)
    assert not t.is_fallback
    assert t.render([{"role": "user", "content": "x"}]) == "<s>x</s>"


class _CharTokenizer:
    """One id per character; BOS = 1 added when add_special and add_bos."""

    bos_id = 1

    def __init__(self, add_bos=True):
        self.add_bos = add_bos

    def encode(self, text, add_special=True, parse_special=False):
        ids = [1] if (add_special and self.add_bos) else []
        i = 0
        while i < len(text):
            if parse_special and text.startswith("<s>", i):
                ids.append(1)
                i += 3
            else:
                ids.append(ord(text[i]))
                i += 1
        return ids


def test_encode_chat_no_double_bos():
    t = ChatTemplate("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
                     bos_token="<s>")
    msgs = [{"role": "user", "content": "hi"}]
    assert encode_chat(_CharTokenizer(add_bos=True), t, msgs) == [1, ord("h"), ord("i")]
    assert encode_chat(_CharTokenizer(add_bos=False), t, msgs) == [1, ord("h"), ord("i")]
    plain = ChatTemplate("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    assert encode_chat(_CharTokenizer(add_bos=True), plain, msgs) == [1, ord("h"), ord("i")]


def test_common_prefix_len():
    assert common_prefix_len([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_len([1, 2], [1, 2, 3]) == 2
    assert common_prefix_len([], [1]) == 0
    assert common_prefix_len([5], [6]) == 0


class _FakeKVModel:
    def __init__(self):
        self.tokenizer = _CharTokenizer(add_bos=False)
        self.n_past = 0
        self.truncations = []

    def reset(self):
        self.n_past = 0

    def truncate(self, n):
        assert 0 <= n <= self.n_past
        self.truncations.append(n)
        self.n_past = n


def test_conversation_reuses_cached_prefix():
    model = _FakeKVModel()
    conv = Conversation(model, ChatTemplate(CHATML_TEMPLATE))
    first = conv.prepare("hi")
    assert model.truncations[-1] == 0
    model.n_past += len(first)          # generate() evaluates the prompt...
    reply = "hello"
    generated = [ord(c) for c in reply] + [2]
    model.n_past += len(generated) - 1  # ...and every sampled token but the final one
    conv.finish(reply, generated)
    assert len(conv.cached) == model.n_past

    second = conv.prepare("more")
    # The cache holds "...assistant\nhello"; the template re-renders that and adds
    # "<|im_end|>\n<|im_start|>user\nmore...": only the tail is evaluated again.
    kept = model.truncations[-1]
    assert kept == model.n_past == len(first) + len(reply)
    full = encode_chat(model.tokenizer, conv.template, conv.messages)
    assert conv.cached + second == full
    assert second[0] == ord("<")


def test_conversation_undo_after_failed_prompt():
    model = _FakeKVModel()
    conv = Conversation(model, ChatTemplate(CHATML_TEMPLATE), system="S")
    ids = conv.prepare("x" * 10)
    model.n_past += len(ids) // 2  # a prompt that failed part-way
    conv.undo_user()
    assert model.n_past == 0 and conv.messages == [{"role": "system", "content": "S"}]
