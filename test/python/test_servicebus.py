"""The Service Bus peer driven by Microsoft's Python SDK (azure-servicebus on uamqp) over AMQPS.

Run by test/python/run.ts, which starts the peer with the queues below and passes
SB_CONNECTION_STRING (TLS, port 5671), SB_BAD_KEY_CONNECTION_STRING and SB_CA_FILE.
Every operation the peer's README lists as supported has a scenario here.
"""
import datetime
import faulthandler
import os
import time
import unittest
import uuid

from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessageNotFoundError,
    MessageSizeExceededError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusError,
    SessionCannotBeLockedError,
    SessionLockLostError,
)

CONNECTION = os.environ.get("SB_CONNECTION_STRING", "")
BAD_KEY_CONNECTION = os.environ.get("SB_BAD_KEY_CONNECTION_STRING", "")
CA_FILE = os.environ.get("SB_CA_FILE", "")


QUEUES_PER_KIND = 20
_allocated = {}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def body_of(message):
    return b"".join(message.body).decode("utf-8")


class ServiceBusPeerTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CONNECTION:
            raise unittest.SkipTest("SB_CONNECTION_STRING is not set (run through test/python/run.ts)")
        cls.client = ServiceBusClient.from_connection_string(CONNECTION, connection_verify=CA_FILE, retry_total=0)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def setUp(self):
        # A hang becomes a traceback and a failed run, not a stuck CI job.
        faulthandler.dump_traceback_later(float(os.environ.get("PY_TEST_TIMEOUT", "120")), exit=True)

    def tearDown(self):
        faulthandler.cancel_dump_traceback_later()

    def queue(self, kind):
        """A queue of its own for each test (run.ts declares QUEUES_PER_KIND of each kind), so that
        locks or leftovers of one test never reach another."""
        n = _allocated.get(kind, 0) + 1
        _allocated[kind] = n
        if n > QUEUES_PER_KIND:
            raise RuntimeError("run.ts declares only %d queues of kind %s" % (QUEUES_PER_KIND, kind))
        return "py-%s-%d" % (kind, n)

    def send(self, queue, *messages):
        with self.client.get_queue_sender(queue) as s:
            s.send_messages(list(messages) if len(messages) > 1 else messages[0])

    def receive(self, receiver, count, within=5.0):
        got = []
        deadline = time.monotonic() + within
        while len(got) < count and time.monotonic() < deadline:
            got.extend(receiver.receive_messages(count - len(got), max_wait_time=1))
        return got


class SendAndReceive(ServiceBusPeerTestCase):
    def test_a_single_message_keeps_its_properties_and_gets_broker_annotations(self):
        q = self.queue("plain")
        sent = ServiceBusMessage(
            "hello", message_id="m-1", correlation_id="c-1", content_type="text/plain", subject="greeting",
            application_properties={"tenant": "t-1", "n": 7}, reply_to="replies", time_to_live=datetime.timedelta(minutes=5),
        )
        self.send(q, sent)
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            self.assertEqual(body_of(m), "hello")
            self.assertEqual((m.message_id, m.correlation_id, m.content_type, m.subject, m.reply_to), ("m-1", "c-1", "text/plain", "greeting", "replies"))
            self.assertEqual(m.application_properties[b"tenant"], b"t-1")
            self.assertEqual(m.application_properties[b"n"], 7)
            self.assertGreater(m.sequence_number, 0)
            self.assertEqual(m.delivery_count, 0)
            self.assertIsInstance(m.lock_token, uuid.UUID)
            self.assertLess(abs((m.enqueued_time_utc - utcnow()).total_seconds()), 10)
            self.assertGreater(m.locked_until_utc, utcnow())
            self.assertEqual(m.time_to_live, datetime.timedelta(minutes=5))
            r.complete_message(m)
            self.assertEqual(r.peek_messages(10), [])

    def test_a_batch_arrives_whole_and_in_order(self):
        q = self.queue("plain")
        with self.client.get_queue_sender(q) as s:
            batch = s.create_message_batch()
            for i in range(5):
                batch.add_message(ServiceBusMessage("b-%d" % i))
            s.send_messages(batch)
            s.send_messages([ServiceBusMessage("list-0"), ServiceBusMessage("list-1")])
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            got = self.receive(r, 7)
            self.assertEqual([body_of(m) for m in got], ["b-0", "b-1", "b-2", "b-3", "b-4", "list-0", "list-1"])
            seqs = [m.sequence_number for m in got]
            self.assertEqual(seqs, sorted(seqs))
            for m in got:
                r.complete_message(m)

    def test_receive_and_delete_removes_on_delivery(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("gone"))
        with self.client.get_queue_receiver(q, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            self.assertEqual(body_of(m), "gone")
            self.assertEqual(r.peek_messages(10), [])

    def test_a_message_over_256_kb_is_refused_and_the_link_stays_usable(self):
        # The peer advertises 256 KB as the link's max-message-size, as the service does, and uamqp
        # refuses a larger message before sending it (a generic ServiceBusError; in a batch, the SDK's
        # MessageSizeExceededError). That the peer itself refuses one that is sent anyway
        # (amqp:link:message-size-exceeded) is proven in the JS lane with a raw AMQP client.
        q = self.queue("plain")
        with self.client.get_queue_sender(q) as s:
            with self.assertRaises(ServiceBusError):
                s.send_messages(ServiceBusMessage(b"x" * (300 * 1024)))
            batch = s.create_message_batch()
            self.assertEqual(batch.max_size_in_bytes, 256 * 1024)
            with self.assertRaises(MessageSizeExceededError):
                batch.add_message(ServiceBusMessage(b"x" * (300 * 1024)))
            s.send_messages(ServiceBusMessage("after"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            got = self.receive(r, 2, within=3)
            self.assertEqual([body_of(m) for m in got], ["after"])
            r.complete_message(got[0])


class Settlement(ServiceBusPeerTestCase):
    def test_abandon_redelivers_with_a_higher_delivery_count(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("again"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            r.abandon_message(m)
            [again] = self.receive(r, 1)
            self.assertEqual(again.sequence_number, m.sequence_number)
            self.assertEqual(again.delivery_count, 1)
            r.complete_message(again)

    def test_dead_letter_moves_the_message_with_reason_and_description(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("poison", message_id="p-1"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            r.dead_letter_message(m, reason="Unprocessable", error_description="bad shape")
            self.assertEqual(r.peek_messages(10), [])
        with self.client.get_queue_receiver(q, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=2) as dlq:
            [d] = self.receive(dlq, 1)
            self.assertEqual((d.message_id, d.dead_letter_reason, d.dead_letter_error_description), ("p-1", "Unprocessable", "bad shape"))
            dlq.complete_message(d)

    def test_max_delivery_count_dead_letters_after_the_last_abandon(self):
        q = self.queue("twice")
        self.send(q, ServiceBusMessage("flaky"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            for _ in range(2):
                [m] = self.receive(r, 1)
                r.abandon_message(m)
            self.assertEqual(self.receive(r, 1, within=1.5), [])
        with self.client.get_queue_receiver(q, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=2) as dlq:
            [d] = self.receive(dlq, 1)
            self.assertEqual(d.dead_letter_reason, "MaxDeliveryCountExceeded")
            dlq.complete_message(d)

    def test_defer_then_receive_deferred_by_sequence_number_and_settle_it(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("later"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            seq = m.sequence_number
            r.defer_message(m)
            self.assertEqual(self.receive(r, 1, within=1.5), [], "a deferred message is not delivered again")
            [peeked] = r.peek_messages(10)
            self.assertEqual(peeked.state, ServiceBusMessageState.DEFERRED)
            [d] = r.receive_deferred_messages([seq])
            self.assertEqual((body_of(d), d.sequence_number), ("later", seq))
            self.assertIsInstance(d.lock_token, uuid.UUID)
            self.assertGreater(d.locked_until_utc, utcnow())
            # Abandoning keeps it deferred; it can be received by number again, then completed.
            r.abandon_message(d)
            [d2] = r.receive_deferred_messages([seq])
            r.complete_message(d2)
            with self.assertRaises(MessageNotFoundError):
                r.receive_deferred_messages([seq])
            self.assertEqual(r.peek_messages(10), [])

    def test_receive_deferred_in_receive_and_delete_mode_removes_it(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("later-rad"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            seq = m.sequence_number
            r.defer_message(m)
        with self.client.get_queue_receiver(q, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE, max_wait_time=2) as rad:
            [d] = rad.receive_deferred_messages([seq])
            self.assertEqual(body_of(d), "later-rad")
            self.assertEqual(rad.peek_messages(10), [])

    def test_a_deferred_message_can_be_dead_lettered(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("later-dlq"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            seq = m.sequence_number
            r.defer_message(m)
            [d] = r.receive_deferred_messages([seq])
            r.dead_letter_message(d, reason="Gave up")
        with self.client.get_queue_receiver(q, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=2) as dlq:
            [x] = self.receive(dlq, 1)
            self.assertEqual((body_of(x), x.dead_letter_reason), ("later-dlq", "Gave up"))
            dlq.complete_message(x)


class PeekAndLocks(ServiceBusPeerTestCase):
    def test_peek_sees_locked_messages_and_pages_by_sequence_number(self):
        q = self.queue("plain")
        self.send(q, *[ServiceBusMessage("p-%d" % i) for i in range(4)])
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [locked] = self.receive(r, 1)
            first = r.peek_messages(2)
            self.assertEqual([body_of(m) for m in first], ["p-0", "p-1"], "a locked message is still in the queue")
            self.assertEqual(first[0].state, ServiceBusMessageState.ACTIVE)
            self.assertIsNone(first[0].lock_token, "peeked messages carry no lock")
            rest = r.peek_messages(10, sequence_number=first[1].sequence_number + 1)
            self.assertEqual([body_of(m) for m in rest], ["p-2", "p-3"])
            again = r.peek_messages(10, sequence_number=first[1].sequence_number)
            self.assertEqual([body_of(m) for m in again], ["p-1", "p-2", "p-3"])
            r.complete_message(locked)
            for m in self.receive(r, 3):
                r.complete_message(m)

    def test_renew_message_lock_extends_it(self):
        q = self.queue("short-lock")
        self.send(q, ServiceBusMessage("slow"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            before = m.locked_until_utc
            time.sleep(1.1)
            after = r.renew_message_lock(m)
            self.assertGreater(after, before)
            self.assertEqual(m.locked_until_utc, after)
            time.sleep(2.5)  # past the first lock (3 s), within the renewed one
            r.complete_message(m)
            self.assertEqual(r.peek_messages(10), [])

    def test_an_expired_lock_cannot_be_renewed_and_the_message_comes_back(self):
        q = self.queue("short-lock")
        self.send(q, ServiceBusMessage("lost"))
        with self.client.get_queue_receiver(q, max_wait_time=2) as r:
            [m] = self.receive(r, 1)
            time.sleep(3.5)
            with self.assertRaises(MessageLockLostError):
                r.renew_message_lock(m)
            [again] = self.receive(r, 1)
            self.assertEqual((body_of(again), again.delivery_count), ("lost", 1))
            r.complete_message(again)


class Sessions(ServiceBusPeerTestCase):
    def test_a_session_receiver_gets_only_its_session_in_order(self):
        q = self.queue("sessions")
        self.send(q, *[ServiceBusMessage("%s-%d" % (s, i), session_id=s) for i in range(3) for s in ("a", "b")])
        with self.client.get_queue_receiver(q, session_id="a", max_wait_time=2) as r:
            self.assertEqual(r.session.session_id, "a")
            self.assertGreater(r.session.locked_until_utc, utcnow())
            got = self.receive(r, 6, within=2.5)
            self.assertEqual([body_of(m) for m in got], ["a-0", "a-1", "a-2"])
            for m in got:
                self.assertEqual(m.session_id, "a")
                r.complete_message(m)
        with self.client.get_queue_receiver(q, session_id="b", max_wait_time=2) as r:
            for m in self.receive(r, 3):
                r.complete_message(m)

    def test_next_available_session_picks_one_with_messages(self):
        q = self.queue("sessions")
        self.send(q, ServiceBusMessage("only", session_id="s-next"))
        with self.client.get_queue_receiver(q, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=2) as r:
            self.assertEqual(r.session.session_id, "s-next")
            [m] = self.receive(r, 1)
            r.complete_message(m)

    def test_a_locked_session_cannot_be_accepted_twice(self):
        q = self.queue("sessions")
        self.send(q, ServiceBusMessage("x", session_id="s-locked"))
        with self.client.get_queue_receiver(q, session_id="s-locked", max_wait_time=2) as first:
            first.receive_messages(1, max_wait_time=1)
            other = ServiceBusClient.from_connection_string(CONNECTION, connection_verify=CA_FILE, retry_total=0)
            with other:
                with self.assertRaises(SessionCannotBeLockedError):
                    with other.get_queue_receiver(q, session_id="s-locked", max_wait_time=1) as second:
                        second.receive_messages(1, max_wait_time=1)

    def test_session_state_and_session_lock_renewal(self):
        q = self.queue("sessions")
        self.send(q, ServiceBusMessage("stateful", session_id="s-state"))
        with self.client.get_queue_receiver(q, session_id="s-state", max_wait_time=2) as r:
            self.assertIsNone(r.session.get_state())
            r.session.set_state(b"step-2")
            self.assertEqual(r.session.get_state(), b"step-2")
            before = r.session.locked_until_utc
            time.sleep(1.1)
            renewed = r.session.renew_lock()
            self.assertGreater(renewed, before)
            r.session.set_state(None)
            self.assertIsNone(r.session.get_state())
            for m in self.receive(r, 1):
                r.complete_message(m)

    def test_session_operations_after_the_session_lock_expired_fail_with_session_lock_lost(self):
        q = self.queue("sessions-short")
        self.send(q, ServiceBusMessage("y", session_id="s-expire"))
        with self.client.get_queue_receiver(q, session_id="s-expire", max_wait_time=2) as r:
            time.sleep(3.5)
            with self.assertRaises(SessionLockLostError):
                r.session.renew_lock()



class ScheduledAndExpiry(ServiceBusPeerTestCase):
    def test_a_scheduled_message_appears_at_its_time(self):
        q = self.queue("plain")
        at = utcnow() + datetime.timedelta(seconds=5)
        with self.client.get_queue_sender(q) as s:
            [seq] = s.schedule_messages(ServiceBusMessage("on-time"), at)
        with self.client.get_queue_receiver(q, max_wait_time=1) as r:
            [peeked] = r.peek_messages(10)
            self.assertEqual((peeked.sequence_number, peeked.state), (seq, ServiceBusMessageState.SCHEDULED))
            self.assertLess(abs((peeked.scheduled_enqueue_time_utc - at).total_seconds()), 0.01)
            self.assertEqual(r.receive_messages(1, max_wait_time=0.5), [], "not before its time")
            [m] = self.receive(r, 1, within=8)
            self.assertEqual((body_of(m), m.sequence_number), ("on-time", seq))
            self.assertGreaterEqual(m.enqueued_time_utc, at - datetime.timedelta(milliseconds=5))
            r.complete_message(m)

    def test_a_cancelled_scheduled_message_never_appears(self):
        q = self.queue("plain")
        with self.client.get_queue_sender(q) as s:
            seqs = s.schedule_messages([ServiceBusMessage("c-1"), ServiceBusMessage("c-2")], utcnow() + datetime.timedelta(seconds=2))
            self.assertEqual(len(seqs), 2)
            s.cancel_scheduled_messages(seqs)
        with self.client.get_queue_receiver(q, max_wait_time=1) as r:
            self.assertEqual(r.peek_messages(10), [])
            self.assertEqual(self.receive(r, 1, within=3), [])

    def test_an_expired_message_is_never_delivered(self):
        q = self.queue("plain")
        self.send(q, ServiceBusMessage("stale", time_to_live=datetime.timedelta(seconds=1)))
        time.sleep(1.5)
        with self.client.get_queue_receiver(q, max_wait_time=1) as r:
            self.assertEqual(self.receive(r, 1, within=1.5), [])
            self.assertEqual(r.peek_messages(10), [])

    def test_expiry_dead_letters_when_the_queue_says_so(self):
        q = self.queue("expiring")
        self.send(q, ServiceBusMessage("expire-me", time_to_live=datetime.timedelta(seconds=1)))
        time.sleep(1.5)
        with self.client.get_queue_receiver(q, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=2) as dlq:
            [d] = self.receive(dlq, 1)
            self.assertEqual((body_of(d), d.dead_letter_reason), ("expire-me", "TTLExpiredException"))
            dlq.complete_message(d)


class Refusals(ServiceBusPeerTestCase):
    def test_a_wrong_sas_key_is_refused(self):
        bad = ServiceBusClient.from_connection_string(BAD_KEY_CONNECTION, connection_verify=CA_FILE, retry_total=0)
        with bad:
            with self.assertRaises((ServiceBusAuthenticationError, ServiceBusAuthorizationError)):
                with bad.get_queue_sender(self.queue("plain")) as s:
                    s.send_messages(ServiceBusMessage("nope"))

    def test_an_unknown_queue_is_refused_as_not_found(self):
        with self.assertRaises(ServiceBusError) as caught:
            with self.client.get_queue_sender("py-no-such-queue") as s:
                s.send_messages(ServiceBusMessage("nowhere"))
        self.assertIn("could not be found", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
