"""Seed 003's FastAPI voice agent, with fastprom.

Before: a PrometheusExporter class copying values out of an Observability
object into prometheus_client on every scrape of GET /api/v1/metrics, and
GET /api/v1/health/prometheus, both routes of the app. Now: metrics are
recorded where things happen, with prometheus_client's API imported from
fastprom; the HTTP metrics come from the ASGI middleware; the app has no
metrics routes -- nginx sends /metrics, /api/v1/metrics (JSON) and
/api/v1/health/prometheus to fastprom-fcgi (run it with --namespace
voice_agent to get the seed's voice_agent_ prefix on every name).

Run (from the repository root):
    make
    PYTHONPATH=src/python FASTPROM_PATH=/dev/shm/fastprom \
        uvicorn examples.fastapi_app:app --workers 3 --port 8000
"""
import asyncio
import time

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

import fastprom.asgi
from fastprom import Counter, Enum, Histogram, Info

# The seed's metric families (HTTP ones now come from the middleware).
AGENT_NODE_EXECUTIONS = Counter("agent_node_executions_total", "Agent workflow node executions.", ["node"])
AGENT_NODE_SECONDS = Histogram("agent_node_execution_seconds", "Agent workflow node execution time.", ["node"])
AGENT_TOOL_CALLS = Counter("agent_tool_calls_total", "Tool calls made by the agent.", ["tool", "status"])
LLM_CALLS = Counter("llm_calls_total", "LLM calls.", ["provider", "model"])
LLM_SECONDS = Histogram("llm_call_duration_seconds", "LLM call duration.", ["provider", "model"])
LLM_TOKENS = Counter("llm_tokens_total", "LLM tokens used.", ["provider", "model", "type"])
BUILD = Info("voice_agent_build", "Voice agent build.")
PHASE = Enum("voice_agent_phase", "Rollout phase of the deployment.", states=["beta", "stable"])

app = FastAPI(title="Voice Agent")
BUILD.info({"version": "0.4.0"})
PHASE.state("beta")


class ChatRequest(BaseModel):
    message: str
    session_id: str


@app.get("/health")
async def health():
    return {"status": "healthy"}


@app.get("/api/v1/sessions/{session_id}")
async def get_session(session_id: str):
    if session_id.startswith("missing"):
        raise HTTPException(status_code=404, detail="no such session")
    return {"session_id": session_id, "turns": len(session_id)}


@app.post("/api/v1/chat")
async def chat(req: ChatRequest):
    with AGENT_NODE_SECONDS.labels(node="respond").time():
        AGENT_NODE_EXECUTIONS.labels(node="respond").inc()
        start = time.perf_counter()
        words = req.message.split()
        LLM_CALLS.labels("local", "echo-1").inc()
        LLM_TOKENS.labels("local", "echo-1", "prompt").inc(len(words))
        LLM_TOKENS.labels("local", "echo-1", "completion").inc(len(words))
        LLM_SECONDS.labels("local", "echo-1").observe(time.perf_counter() - start)
    return {"session_id": req.session_id, "reply": " ".join(reversed(words))}


@app.get("/api/v1/agents/{agent_id}/tools/{tool}")
async def call_tool(agent_id: int, tool: str):
    status = "ok" if tool != "broken" else "error"
    AGENT_TOOL_CALLS.labels(tool=tool, status=status).inc()
    if status == "error":
        raise RuntimeError(f"agent {agent_id}: tool {tool} failed")
    return {"agent_id": agent_id, "tool": tool}


@app.get("/api/v1/speech/{session_id}/stream")
async def speech_stream(session_id: str, chunks: int = 5, interval: float = 0.0):
    """Synthesised speech, streamed chunk by chunk."""
    async def audio():
        for i in range(chunks):
            if interval:
                await asyncio.sleep(interval)
            yield f"{session_id}:{i}\n".encode()
    # nginx must pass chunks on as they come, not buffer the whole answer.
    return StreamingResponse(audio(), media_type="application/octet-stream", headers={"X-Accel-Buffering": "no"})


# Health checks are not traffic: keep them out of the request metrics.
app.add_middleware(fastprom.asgi.MetricsMiddleware, excluded_paths=[r"/health$"])
