"""Proactive follow-up: order updates in a customer's linked chat, and agents' answers mailed to web customers who left.

See docs/notifications.md. :mod:`.preferences` keeps what each customer opted into (order
updates, quiet hours in their timezone); :mod:`.orders` records one notification per change of an
order and stores it as a message of the customer's linked Telegram or Slack chat, so it leaves
through the outbox exactly once; :mod:`.timer` sends the ones that waited for quiet hours to end;
:mod:`.follow_up` mails an agent's answer to a web customer who closed the chat and left an address.
"""
