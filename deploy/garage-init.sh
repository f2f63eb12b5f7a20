#!/bin/sh
# One-shot set-up of compose.yaml's Garage node through its admin API (v2): gives the node its
# place in the layout, creates the bucket, imports the replicas' fixed key and lets it read,
# write and own the bucket. Each step is skipped when already done, so a second
# `compose up` passes too. Runs under busybox sh with curl; needs GARAGE_ADMIN_URL,
# GARAGE_ADMIN_TOKEN, GARAGE_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
set -eu

say() { echo "garage-init: $*"; }

# call METHOD ENDPOINT [JSON]: the answer on stdout, non-zero on an HTTP error.
call() {
    if [ $# -ge 3 ]; then
        curl -sS --fail -X "$1" -H "Authorization: Bearer $GARAGE_ADMIN_TOKEN" \
            -H 'Content-Type: application/json' --data "$3" "$GARAGE_ADMIN_URL/v2/$2"
    else
        curl -sS --fail -X "$1" -H "Authorization: Bearer $GARAGE_ADMIN_TOKEN" "$GARAGE_ADMIN_URL/v2/$2"
    fi
}

# The first "id" of a JSON answer (the node's, the bucket's).
first_id() { grep -o '"id": *"[0-9a-f]*"' | head -n 1 | sed 's/.*"\([0-9a-f]*\)"$/\1/'; }

tries=0
until status=$(call GET GetClusterStatus 2>/dev/null); do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || { say "the admin API at $GARAGE_ADMIN_URL never answered"; exit 1; }
    sleep 0.5
done

if echo "$status" | grep -q '"layoutVersion": *0[,}]'; then
    node=$(echo "$status" | first_id)
    say "layout: node $node in zone dc1, 1 GB"
    call POST UpdateClusterLayout \
        "{\"roles\":[{\"id\":\"$node\",\"zone\":\"dc1\",\"capacity\":1000000000,\"tags\":[]}]}" >/dev/null
    call POST ApplyClusterLayout '{"version":1}' >/dev/null
else
    say "layout already applied"
fi

if ! bucket=$(call GET "GetBucketInfo?globalAlias=$GARAGE_BUCKET" 2>/dev/null); then
    say "bucket $GARAGE_BUCKET"
    bucket=$(call POST CreateBucket "{\"globalAlias\":\"$GARAGE_BUCKET\"}")
fi
bucket_id=$(echo "$bucket" | first_id)

if ! call GET "GetKeyInfo?id=$AWS_ACCESS_KEY_ID" >/dev/null 2>&1; then
    say "key $AWS_ACCESS_KEY_ID"
    call POST ImportKey "{\"accessKeyId\":\"$AWS_ACCESS_KEY_ID\",\"secretAccessKey\":\"$AWS_SECRET_ACCESS_KEY\",\"name\":\"kohonen\"}" >/dev/null
fi

call POST AllowBucketKey "{\"bucketId\":\"$bucket_id\",\"accessKeyId\":\"$AWS_ACCESS_KEY_ID\",\"permissions\":{\"read\":true,\"write\":true,\"owner\":true}}" >/dev/null
say "bucket $GARAGE_BUCKET ready for key $AWS_ACCESS_KEY_ID"
