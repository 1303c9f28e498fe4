"""Lease-based leader election, as client-go's tools/leaderelection with a LeaseLock.

Candidates share one coordination.k8s.io/v1 Lease (spec.holderIdentity, leaseDurationSeconds, acquireTime,
renewTime, leaseTransitions). `LeaderElector.run(lead)`:

1. tries every retry_period (jittered by up to 1.2x, as upstream) to acquire the lease: create it if missing,
   or take it when it is free (no holder) or expired. Expiry is judged by *our* observation time on the Clock,
   as upstream does: a lease whose record has not changed for leaseDurationSeconds since we first saw it is
   free, whatever its renewTime says (clock skew between machines does not matter);
2. runs `lead()` as a task while renewing the lease every retry_period; every write carries the
   resourceVersion last read, so two candidates never both win (a Conflict is just a failed try);
3. when renewals keep failing for renew_deadline, cancels `lead()` and raises `LeadershipLost`; the process
   should then exit, as upstream components do;
4. when `run()` is cancelled or `lead()` returns, releases the lease (holder emptied, duration 1 s: upstream
   ReleaseOnCancel) so a standby takes over at once. The release is best effort and bounded by the leader
   election request timeout.

The elector's client must not be the component's workload client: a busy rate limiter or connection pool, or a
60 s request timeout, would make renewals miss the renew deadline. `leader_election_client` builds the client
upstream's resourcelock.NewFromKubeconfig builds: its own connections, no rate limit, user agent
"<ua>/leader-election", and a request timeout of renew_deadline/2 (at least 1 s).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pyk8s.api import errors, meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, Obj
from pyk8s.client.kinds import LEASES
from pyk8s.client.kubeconfig import ClientConfig
from pyk8s.client.rest import RESTClient

T = TypeVar("T")

log = logging.getLogger("pyk8s.client.leaderelection")

JITTER_FACTOR = 1.2  # upstream JitterFactor
DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0


def leader_election_timeout(renew_deadline: float) -> float:
    """The request timeout of leader election calls: half the renew deadline, at least 1 s (upstream)."""
    return max(1.0, renew_deadline / 2)


def leader_election_client(config: ClientConfig, renew_deadline: float) -> RESTClient:
    """A RESTClient for a LeaderElector only: own session, no rate limit, user agent "<ua>/leader-election",
    request timeout `leader_election_timeout(renew_deadline)`. `config` is not changed. Close it when done."""
    own = dataclasses.replace(config, qps=None, burst=None, timeout=leader_election_timeout(renew_deadline),
                              user_agent=f"{config.user_agent}/leader-election")
    return RESTClient(own)


class LeadershipLost(Exception):
    """The lease could not be renewed within the renew deadline: this process is no longer the leader."""


class _Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str, *, kind: str = "",
              api_version: str = "") -> None: ...


def _record_of(lease: Obj) -> Obj:
    """The leader election record a Lease holds (upstream LeaseSpecToLeaderElectionRecord)."""
    spec = lease.get("spec") or {}
    return {
        "holderIdentity": str(spec.get("holderIdentity") or ""),
        "leaseDurationSeconds": int(spec.get("leaseDurationSeconds") or 0),
        "acquireTime": spec.get("acquireTime"),
        "renewTime": spec.get("renewTime"),
        "leaseTransitions": int(spec.get("leaseTransitions") or 0),
    }


class LeaderElector:
    """Runs `lead()` only while this candidate holds the Lease `namespace/name` (see the module docstring)."""

    def __init__(self, client: Client, namespace: str, name: str, identity: str, *,
                 lease_duration: float = DEFAULT_LEASE_DURATION, renew_deadline: float = DEFAULT_RENEW_DEADLINE,
                 retry_period: float = DEFAULT_RETRY_PERIOD, clock: Clock = REAL_CLOCK,
                 on_new_leader: Callable[[str], None] | None = None, recorder: _Recorder | None = None,
                 jitter_factor: float = JITTER_FACTOR) -> None:
        # Upstream NewLeaderElector's checks, in its order and words.
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= jitter_factor * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if lease_duration < 1:
            raise ValueError("leaseDuration must be greater than zero")
        if retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")
        if not identity:
            raise ValueError("Lock identity is empty")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self.on_new_leader = on_new_leader
        self.recorder = recorder
        self.jitter_factor = jitter_factor
        self.release_timeout = leader_election_timeout(renew_deadline)
        self._lease: Obj | None = None  # the Lease as last read or written (its resourceVersion guards updates)
        self._observed: Obj = {}
        self._observed_time = 0.0
        self._reported_leader = ""

    def __repr__(self) -> str:
        return f"<leader elector {self.namespace}/{self.name} as {self.identity}>"

    @property
    def description(self) -> str:
        return f"{self.namespace}/{self.name}"

    def is_leader(self) -> bool:
        return bool(self._observed) and self._observed.get("holderIdentity") == self.identity

    def leader(self) -> str:
        """The identity of the last observed leader ("" when none was seen yet)."""
        return str(self._observed.get("holderIdentity") or "")

    async def run(self, lead: Callable[[], Awaitable[Any]]) -> Any:
        """Acquire the lease, then run `lead()` while renewing it. Returns what `lead()` returns (after releasing
        the lease); raises LeadershipLost if renewal fails; on cancellation cancels `lead()` and releases."""
        await self._acquire()
        lead_task: asyncio.Task[Any] = asyncio.ensure_future(lead())
        renew_task = asyncio.create_task(self._renew(), name=f"renew lease {self.description}")
        try:
            await asyncio.wait({lead_task, renew_task}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._stop(lead_task, renew_task)
            await self._release()
            raise
        if renew_task.done():
            await self._stop(lead_task)
            self._record_event("stopped leading")
            renew_task.result()  # a bug in the renew loop surfaces here rather than as LeadershipLost
            raise LeadershipLost(f"leader election lost: could not renew lease {self.description} within "
                                 f"{self.renew_deadline:g}s")
        await self._stop(renew_task)
        await self._release()
        return lead_task.result()

    # ---- loops ----

    async def _acquire(self) -> None:
        log.info("attempting to acquire leader lease %s...", self.description)
        while True:
            acquired = await self._try_acquire_or_renew()
            self._maybe_report_transition()
            if acquired:
                log.info("successfully acquired lease %s", self.description)
                self._record_event("became leader")
                return
            log.debug("failed to acquire lease %s", self.description)
            await self.clock.sleep(self.retry_period * (1 + random.random() * self.jitter_factor))

    async def _renew(self) -> None:
        """Renew every retry_period; return when a renewal has not succeeded within renew_deadline."""
        while True:
            deadline = self.clock.monotonic() + self.renew_deadline
            renewed = False
            while True:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    break
                renewed = await self._within(remaining, self._try_acquire_or_renew())
                if renewed:
                    break
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    break
                await self.clock.sleep(min(self.retry_period, remaining))
            self._maybe_report_transition()
            if not renewed:
                log.info("failed to renew lease %s: timed out waiting for the condition", self.description)
                return
            log.debug("successfully renewed lease %s", self.description)
            await self.clock.sleep(self.retry_period)

    async def _within(self, seconds: float, attempt: Awaitable[bool]) -> bool:
        """The attempt's result, or False if it has not finished after `seconds` on the clock."""
        try:
            return await self._bounded(seconds, attempt)
        except TimeoutError:
            return False

    async def _bounded(self, seconds: float, work: Awaitable[T]) -> T:
        """`work`'s result; TimeoutError (and `work` cancelled) when it has not finished after `seconds` on the
        clock."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        raise TimeoutError(f"not done within {seconds:g}s")

    @staticmethod
    async def _stop(*tasks: asyncio.Future[Any]) -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one attempt (upstream tryAcquireOrRenew) ----

    def _new_record(self) -> Obj:
        now = meta.now_micro(self.clock.now())
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": now, "renewTime": now, "leaseTransitions": 0}

    def _lease_valid(self) -> bool:
        duration = int(self._observed.get("leaseDurationSeconds") or 0)
        return self._observed_time + duration > self.clock.monotonic()

    def _set_observed(self, record: Obj) -> None:
        self._observed = dict(record)
        self._observed_time = self.clock.monotonic()

    async def _try_acquire_or_renew(self) -> bool:
        try:
            return await self._try_acquire_or_renew_once()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # API errors and broken connections are failed tries, never crashes
            log.error("error acquiring or renewing lease %s: %s", self.description, e)
            return False

    async def _try_acquire_or_renew_once(self) -> bool:
        record = self._new_record()
        # 1. The leader's fast path: write over the record we last saw, trusting its resourceVersion.
        if self.is_leader() and self._lease_valid() and self._lease is not None:
            record["acquireTime"] = self._observed.get("acquireTime")
            record["leaseTransitions"] = int(self._observed.get("leaseTransitions") or 0)
            try:
                await self._update(record)
                self._set_observed(record)
                return True
            except (errors.StatusError, ConnectionError) as e:
                log.error("Failed to update lock optimistically: %s, falling back to slow path", e)
        # 2. Read the lease, or create it.
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except errors.NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": dict(record)}
            try:
                self._lease = await self.client.create(LEASES, body, self.namespace)
            except errors.StatusError as e:
                log.error("error initially creating leader election record: %s", e)
                return False
            self._set_observed(record)
            return True
        self._lease = lease
        # 3. A record that changed since we last looked restarts our observation time.
        current = _record_of(lease)
        if current != self._observed:
            self._set_observed(current)
        if current["holderIdentity"] and self._lease_valid() and not self.is_leader():
            log.debug("lock is held by %s and has not yet expired", current["holderIdentity"])
            return False
        # 4. Take it over (or renew it on the slow path).
        if self.is_leader():
            record["acquireTime"] = current["acquireTime"]
            record["leaseTransitions"] = current["leaseTransitions"]
        else:
            record["leaseTransitions"] = current["leaseTransitions"] + 1
        try:
            await self._update(record)
        except errors.StatusError as e:
            log.error("Failed to update lock: %s", e)
            return False
        self._set_observed(record)
        return True

    async def _update(self, record: Obj) -> None:
        if self._lease is None:
            raise errors.InternalError("lease not initialized, call get or create first")
        lease = meta.copy(self._lease)
        lease.setdefault("spec", {}).update(record)
        self._lease = await self.client.update(LEASES, lease)

    async def _release(self) -> None:
        """Give the lease up if we hold it (best effort; failures are logged)."""
        if not self.is_leader() or self._lease is None:
            return
        now = meta.now_micro(self.clock.now())
        record = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now,
                  "leaseTransitions": int(self._observed.get("leaseTransitions") or 0)}
        try:
            await self._bounded(self.release_timeout, self._update(record))
        except Exception as e:
            log.error("Failed to release lock: %s", e or type(e).__name__)
            return
        self._set_observed(record)
        log.info("released lease %s", self.description)

    def _maybe_report_transition(self) -> None:
        holder = self.leader()
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if self.on_new_leader is not None:
            try:
                self.on_new_leader(holder)
            except Exception:
                log.exception("on_new_leader callback failed")

    def _record_event(self, what: str) -> None:
        if self.recorder is None or self._lease is None:
            return
        subject = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": self._lease.get("metadata")}
        self.recorder.event(subject, "Normal", "LeaderElection", f"{self.identity} {what}")
