// Package loyalty holds the membership programme: the member profile and the
// rules that change it. It is pure Go over events and decimal; it never
// imports AWS, Temporal or SendGrid, so every rule is testable in isolation.
package loyalty
