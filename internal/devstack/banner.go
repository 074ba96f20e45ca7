package devstack

import (
	"fmt"
	"path/filepath"
)

// Banner is what make dev prints once the stack is ready: the key and calls to try.
func Banner(e Env, dir string) string {
	return fmt.Sprintf(`
Accrue is running locally.
  API           %[1]s   (partner %[3]q, admin key below, shown once)
  API key       %[2]s
  payments queue %[4]s
  environment   %[5]s   (source it: set -a; . %[5]s; set +a)

Try:
  aws --endpoint-url %[6]s --region %[7]s sqs send-message --queue-url %[4]s \
    --message-body file://events/payment.json
  curl -s -H "Authorization: Bearer %[2]s" %[1]s/v1/members/cust-42
  curl -s -X POST -H "Authorization: Bearer %[2]s" -H 'Content-Type: application/json' \
    -d '{"points":5,"capture":true}' %[1]s/v1/members/cust-42/redemptions
  go run ./cmd/accrue --table %[9]s import --partner %[3]s events/import-members.csv   (with dev.env sourced)

Webhooks: POST %[1]s/v1/webhooks {"url":"http://127.0.0.1:8081/"} answers a secret;
  go run ./cmd/accrue webhook listen --secret whsec_...   prints each verified delivery.

Ctrl-C stops everything; data stays in %[8]s (make dev FRESH=1 starts empty).
`, e.APIURL, e.APIKey, e.Partner, e.QueueURL, filepath.Join(dir, "dev.env"), e.MotoEndpoint, e.Region, filepath.Join(dir, "dev-db"), e.Table)
}
