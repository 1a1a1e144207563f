package bench

// Overrides change a load profile's initial state and gas rate, as the
// --initial-accounts, --initial-slots and --gas-per-second flags of
// `strata bench run` and `strata bench catchup` do.
type Overrides struct {
	InitialAccounts int // negative keeps the profile's
	InitialSlots    int // negative keeps the profile's
	GasPerSecond    uint64
}

// NoOverrides keeps the profile as its file says.
var NoOverrides = Overrides{InitialAccounts: -1, InitialSlots: -1}

// LoadProfileWith reads the profile at path with the overrides applied.
func LoadProfileWith(path string, o Overrides) (*Profile, error) {
	prof, err := LoadProfile(path)
	if err != nil {
		return nil, err
	}
	if o.InitialAccounts >= 0 {
		prof.Initial.Accounts = o.InitialAccounts
	}
	if o.InitialSlots >= 0 {
		prof.Initial.Slots = o.InitialSlots
	}
	if o.GasPerSecond > 0 {
		prof.GasPerSecond = o.GasPerSecond
	}
	return prof, nil
}

// LoadProfileAndContract reads the profile at profilePath with the
// overrides applied and the contract a run of it is judged against.
func LoadProfileAndContract(profilePath string, o Overrides, contractPath string) (*Profile, *Contract, error) {
	prof, err := LoadProfileWith(profilePath, o)
	if err != nil {
		return nil, nil, err
	}
	contract, err := LoadContract(contractPath)
	if err != nil {
		return nil, nil, err
	}
	return prof, contract, nil
}
