"""What the catalog tells the packages built on it, without importing them (billing turns
an inquiry's new message into a notification and its e-mail; see marketplace's app
factory)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent with the new InquiryMessage as sender and ``session=`` inside the transaction that
# stores it; the receiver tells the other side of the thread.
inquiry_message_posted = _signals.signal("inquiry-message-posted")

# Sent with the Inquiry as sender and ``session=``, ``organization_id=``, ``now=`` when a
# member of that organization opens a thread with a message unread by its side; the
# receiver marks the notifications of those messages read.
inquiry_read = _signals.signal("inquiry-read")
