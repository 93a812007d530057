package renewal

import "slices"

// DefaultRecipientRoles are the roles whose holders receive reminders (R8).
var defaultRecipientRoles = []string{"Global admin", "MPN Partner Admin"}

// DefaultRecipientRoles returns the programme's recipient roles.
func DefaultRecipientRoles() []string { return slices.Clone(defaultRecipientRoles) }

// roleAliases maps normalised role names to the role they stand for.
var roleAliases = map[string]string{
	"microsoft ai cloud partner program partner admin": "mpn partner admin",
	"mpn partner administrator":                        "mpn partner admin",
	"global administrator":                             "global admin",
}

// RoleKey returns the comparable form of a role name: case and spacing folded, aliases resolved.
func RoleKey(role string) string {
	k := NormalizeName(role)
	if a, ok := roleAliases[k]; ok {
		return a
	}
	return k
}

// KnownRole reports whether role is one the partner programme defines, so that imports can warn
// about typos without rejecting data.
func KnownRole(role string) bool {
	switch RoleKey(role) {
	case "global admin", "mpn partner admin", "account admin", "referrals admin", "incentive admin",
		"incentive user", "marketing content admin", "admin agent", "sales agent", "helpdesk agent",
		"billing admin", "user", "executive report viewer", "developer", "business profile contributor":
		return true
	}
	return false
}

// RoleMatcher says whether a role makes its holder a reminder recipient.
type RoleMatcher struct {
	keys []string
}

// NewRoleMatcher builds a matcher for the configured recipient roles.
func NewRoleMatcher(roles []string) RoleMatcher {
	m := RoleMatcher{}
	for _, r := range roles {
		if k := RoleKey(r); !slices.Contains(m.keys, k) {
			m.keys = append(m.keys, k)
		}
	}
	return m
}

// Keys returns the role keys that qualify, for queries on stored role keys.
func (m RoleMatcher) Keys() []string { return slices.Clone(m.keys) }

// Matches reports whether any of roles qualifies its holder.
func (m RoleMatcher) Matches(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(m.keys, RoleKey(r)) {
			return true
		}
	}
	return false
}
