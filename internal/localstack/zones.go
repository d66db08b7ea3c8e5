package localstack

import (
	"errors"
	"time"
)

// daytimeCandidates are zones at or west of the programme's (UTC+8), one
// per hour of offset down to UTC−11: there a member's local date is never
// ahead of the programme's, on which the ledger dates birthday gifts.
var daytimeCandidates = []string{
	"Asia/Shanghai", "Asia/Bangkok", "Asia/Dhaka", "Asia/Karachi", "Asia/Dubai", "Europe/Moscow",
	"Europe/Athens", "Europe/Paris", "Europe/London", "Atlantic/Azores", "Atlantic/South_Georgia",
	"America/Sao_Paulo", "America/Halifax", "America/New_York", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "Pacific/Pago_Pago",
}

// DaytimeZone is an IANA time zone where it is between 10:30 and 20:00 at
// t: members placed there are outside the contact policy's quiet hours
// (21:00–09:00 local) and past the calendar journeys' 10:00 steps, so the
// end-to-end tests and `make cost` can run a journey's emails at any hour.
func DaytimeZone(t time.Time) (string, error) {
	for _, name := range daytimeCandidates {
		loc, err := time.LoadLocation(name)
		if err != nil {
			return "", err
		}
		l := t.In(loc)
		if m := l.Hour()*60 + l.Minute(); m >= 10*60+30 && m < 20*60 {
			return name, nil
		}
	}
	return "", errors.New("no candidate time zone is between 10:30 and 20:00 now")
}
