package main

import "github.com/spf13/cobra"

func convertCmd() *cobra.Command {
	return &cobra.Command{Use: "convert", Hidden: true}
}
