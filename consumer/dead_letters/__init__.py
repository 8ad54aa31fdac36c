"""Dead letters: messages that cannot become activities, written with the reason why.

- ``producer``: the Kafka producer of dead letters (and of park records);
- ``sender``: the poll thread's side: send, acknowledge, retry, and the breaker's hold;
- ``breaker``: a flood of dead letters (a bad deploy) stops the topic instead of draining it;
- ``redrive``: ``activity-consumer redrive``, putting dead letters back on their topic.
"""
