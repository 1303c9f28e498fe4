"""Writes for StatefulSet members: pods, their PVCs and the claims' retention ownerReferences (stateful_pod_control.go).

Every pod create, update and delete is reported as an Event on the StatefulSet with upstream's wording:
"create Pod web-0 in StatefulSet web successful", "create Claim www-web-0 Pod web-0 in StatefulSet web
success", "delete Pod web-1 in StatefulSet web successful", and the Failed* forms with the error.
"""

from __future__ import annotations

import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.api.meta import copy
from pyk8s.client.interface import Client, Lister
from pyk8s.client.kinds import PERSISTENT_VOLUME_CLAIMS, PODS
from pyk8s.controllers.statefulset import pods as sp

log = logging.getLogger("pyk8s.controllers.statefulset")

Obj = dict[str, Any]

UPDATE_RETRIES = 4  # retry.DefaultBackoff steps


class AggregateError(Exception):
    """utilerrors.NewAggregate: one message, or "[a, b]" for several."""

    def __init__(self, errs: list[Exception]) -> None:
        self.errors = errs
        text = str(errs[0]) if len(errs) == 1 else "[" + ", ".join(str(e) for e in errs) + "]"
        super().__init__(text)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


class StatefulPodControl:
    def __init__(self, client: Client, pod_lister: Lister, claim_lister: Lister, recorder: Any) -> None:
        self.client = client
        self.pod_lister = pod_lister
        self.claim_lister = claim_lister
        self.recorder = recorder

    # ---- events ----

    def _pod_event(self, verb: str, sts: Obj, pod: Obj, err: Exception | None) -> None:
        if err is None:
            self.recorder.event(sts, "Normal", f"Successful{verb.title()}",
                                f"{verb} Pod {_name(pod)} in StatefulSet {_name(sts)} successful")
        else:
            self.recorder.event(sts, "Warning", f"Failed{verb.title()}",
                                f"{verb} Pod {_name(pod)} in StatefulSet {_name(sts)} failed error: {err}")

    def _claim_event(self, verb: str, sts: Obj, pod: Obj, claim: Obj, err: Exception | None) -> None:
        if err is None:
            self.recorder.event(sts, "Normal", f"Successful{verb.title()}",
                                f"{verb} Claim {_name(claim)} Pod {_name(pod)} in StatefulSet {_name(sts)} success")
        else:
            self.recorder.event(sts, "Warning", f"Failed{verb.title()}",
                                f"{verb} Claim {_name(claim)} for Pod {_name(pod)} in StatefulSet {_name(sts)} "
                                f"failed error: {err}")

    def _claim(self, namespace: str, name: str) -> Obj | None:
        return self.claim_lister.get(f"{namespace}/{name}")

    # ---- pods ----

    async def create(self, sts: Obj, pod: Obj) -> Obj:
        """CreateStatefulPod: the pod's claims first, then the pod, then the claims' retention refs."""
        try:
            await self._create_claims(sts, pod)
        except Exception as e:
            self._pod_event("create", sts, pod, e)
            raise
        try:
            created = await self.client.create(PODS, pod, _meta(sts).get("namespace") or "")
        except errors.AlreadyExists:
            raise
        except Exception as e:
            self._pod_event("create", sts, pod, e)
            raise
        try:
            await self.update_claims_for_retention(sts, created)
        except Exception as e:
            self._pod_event("update", sts, created, e)
            raise
        self._pod_event("create", sts, created, None)
        return created

    async def update(self, sts: Obj, pod: Obj) -> None:
        """UpdateStatefulPod: restore identity, storage and claim retention refs; retried on conflict."""
        attempted = False
        current: Obj = copy(pod)
        last: Exception | None = None
        for _ in range(UPDATE_RETRIES):
            consistent = True
            if not sp.identity_matches(sts, current):
                sp.update_identity(sts, current)
                consistent = False
            if not sp.storage_matches(sts, current):
                sp.update_storage(sts, current)
                consistent = False
                try:
                    await self._create_claims(sts, current)
                except Exception as e:
                    self._pod_event("update", sts, current, e)
                    raise
            try:
                if not self.claims_match_retention(sts, current):
                    await self.update_claims_for_retention(sts, current)
                    consistent = False
            except Exception as e:
                self._pod_event("update", sts, current, e)
                raise
            if consistent:
                return
            attempted = True
            try:
                await self.client.update(PODS, current)
                self._pod_event("update", sts, current, None)
                return
            except errors.Conflict as e:
                last = e
                fresh = self.pod_lister.get(f"{_meta(current).get('namespace')}/{_name(current)}")
                if fresh is not None:
                    current = copy(fresh)
            except Exception as e:
                self._pod_event("update", sts, current, e)
                raise
        assert last is not None
        if attempted:
            self._pod_event("update", sts, current, last)
        raise last

    async def delete(self, sts: Obj, pod: Obj) -> None:
        pm = _meta(pod)
        try:
            await self.client.delete(PODS, pm["name"], pm.get("namespace") or "")
        except Exception as e:
            self._pod_event("delete", sts, pod, e)
            raise
        self._pod_event("delete", sts, pod, None)

    # ---- claims ----

    async def _create_claims(self, sts: Obj, pod: Obj) -> None:
        """createPersistentVolumeClaims: create every missing claim; a claim being deleted is an error."""
        failures: list[Exception] = []
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            cm = claim["metadata"]
            existing = self._claim(cm["namespace"], cm["name"])
            if existing is None:
                try:
                    await self.client.create(PERSISTENT_VOLUME_CLAIMS, claim, cm["namespace"])
                except errors.AlreadyExists:
                    continue  # created meanwhile (our cache lags): the claim we need is there
                except Exception as e:
                    failures.append(Exception(f"failed to create PVC {cm['name']}: {e}"))
                    self._claim_event("create", sts, pod, claim, e)
                    continue
                self._claim_event("create", sts, pod, claim, None)
            elif _meta(existing).get("deletionTimestamp"):
                failures.append(Exception(f"pvc {cm['name']} is being deleted"))
        if failures:
            raise AggregateError(failures)

    async def create_missing_claims(self, sts: Obj, pod: Obj) -> None:
        """createMissingPersistentVolumeClaims: for pending pods whose claims vanished."""
        await self._create_claims(sts, pod)
        try:
            await self.update_claims_for_retention(sts, pod)
        except Exception as e:
            self._pod_event("update", sts, pod, e)
            raise

    def claims_match_retention(self, sts: Obj, pod: Obj) -> bool:
        """ClaimsMatchRetentionPolicy: every existing claim of the pod has the refs the policy asks for."""
        ns = _meta(sts).get("namespace") or ""
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            existing = self._claim(ns, claim["metadata"]["name"])
            if existing is not None and not sp.is_claim_owner_up_to_date(existing, sts, pod):
                return False
        return True

    async def update_claims_for_retention(self, sts: Obj, pod: Obj) -> None:
        """UpdatePodClaimForRetentionPolicy: rewrite the claims' refs to the set and the pod."""
        ns = _meta(sts).get("namespace") or ""
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            name = claim["metadata"]["name"]
            existing = self._claim(ns, name)
            if existing is None:
                continue  # picked up on a later sync
            if sp.has_unexpected_controller(existing, sts, pod):
                self.recorder.event(sts, "Warning", "ConflictingController",
                                    f"PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a "
                                    f"manging controller, the retention policy is ignored for this claim")
            if not sp.is_claim_owner_up_to_date(existing, sts, pod):
                updated = copy(existing)
                sp.update_claim_owner_refs(updated, sts, pod)
                try:
                    await self.client.update(PERSISTENT_VOLUME_CLAIMS, updated)
                except Exception as e:
                    raise Exception(f"could not update claim {name} for delete policy ownerRefs: {e}") from e

    def pod_claim_is_stale(self, sts: Obj, pod: Obj) -> bool:
        """PodClaimIsStale: with whenScaled=Delete, a claim still owned by an earlier pod blocks re-creation."""
        if sp.retention_policy(sts)[1] == sp.RETAIN:
            return False
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            cm = claim["metadata"]
            existing = self._claim(cm["namespace"], cm["name"])
            if existing is not None and sp.has_stale_owner_ref(existing, pod, sp.POD_API_VERSION, sp.POD_KIND):
                return True
        return False
