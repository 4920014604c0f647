"""In-process llama.cpp student (xllamacpp): a GGUF model with several decoding slots.

``Server.handle_chat_completions`` releases the GIL while llama.cpp decodes, so requests
from several threads share the server's continuous batching (measured: 1.33x aggregate
tokens/s with 4 slots vs one request at a time on 2 cores, see benchmarks/).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from wst.assets import AssetError, check_gguf, sha256_of
from wst.students.base import Answer, Budget, Request, Sampling, Student, token_probs
from wst.students.cache import ResponseCache

log = logging.getLogger(__name__)


class LlamaCppStudent(Student):
    def __init__(
        self,
        model_path: str,
        sampling: Sampling,
        parallel: int = 4,
        threads: int = 0,
        context_per_slot: int = 1024,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
    ):
        super().__init__(sampling, parallel, cache, budget)
        import xllamacpp

        path = Path(model_path)
        check_gguf(path)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = self.parallel
        params.n_ctx = context_per_slot * self.parallel
        threads = threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        params.warmup = False
        params.endpoint_metrics = True  # for _wait_for_task_loop
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as exc:  # a damaged GGUF, or too little memory for its context
            raise AssetError(f"GGUF model {path}: llama.cpp cannot load it ({exc})") from exc
        self._wait_for_task_loop()
        # the full hash: two fine-tunes of one base (same size, same header) never share answers
        self._identity = f"llamacpp:{path.name}:{sha256_of(path)[:16]}"
        log.info("llama.cpp model %s loaded with %d slots, %d threads", path.name, self.parallel, threads)

    @property
    def identity(self) -> str:
        return self._identity

    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        chat = not isinstance(messages, str)
        request = {"messages" if chat else "prompt": messages, "max_tokens": sampling.max_tokens,
                   "temperature": sampling.temperature}
        if sampling.seed is not None:
            request["seed"] = sampling.seed
        if sampling.top_logprobs and chat:
            request.update(logprobs=True, top_logprobs=sampling.top_logprobs)
        handle = self._server.handle_chat_completions if chat else self._server.handle_completions
        response = handle(request)
        if "error" in response:
            raise RuntimeError(f"llama.cpp error: {response['error']}")
        choice = response["choices"][0]
        text = (choice["message"].get("content") if chat else choice.get("text")) or ""
        usage = response["usage"]
        content = (choice.get("logprobs") or {}).get("content") or []
        probs = token_probs(content[0]["top_logprobs"]) if content else None
        return Answer(text=text, completion_tokens=usage["completion_tokens"],
                      prompt_tokens=usage["prompt_tokens"], first_token_probs=probs)

    def _wait_for_task_loop(self) -> None:
        """Return once llama.cpp's task loop runs, so that ``close`` can always stop it.

        ``xllamacpp.Server()`` returns before its thread enters the task loop, and entering it
        sets ``running = true``: a server closed in that gap had its stop overwritten, and its
        destructor waited for the loop forever (a test that loads and at once closes a teacher
        hung a CI run; ``benchmarks/llamacpp_close_race.py``: 3 hangs in 510 load-and-close
        cycles, none in 640 once each load waited here). A metrics request is the cheapest
        task that needs the loop to answer it.
        """
        metrics = self._server.handle_metrics()
        if "llamacpp:" not in metrics:
            raise RuntimeError(f"llama.cpp server did not start its task loop: {metrics[:200]}")

    def close(self) -> None:
        del self._server
